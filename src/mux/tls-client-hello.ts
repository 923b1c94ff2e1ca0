/**
 * Reading a TLS ClientHello just far enough to route the connection: the server name (SNI) and the offered
 * application protocols (ALPN). Nothing is decrypted (nothing is encrypted yet) and nothing is answered: the
 * bytes go to the service, which does the handshake itself. Every length is checked against what contains
 * it, the handshake may span several records, and the caller bounds how many bytes are read at all.
 * @module
 */
import { PortunusError } from '../errors.js';
import { hostName } from './host-name.js';

/** What the router needs of a ClientHello. */
export interface ClientHelloInfo {
  /** The requested host name (SNI), lower-cased, without a trailing dot; undefined when none was sent. */
  serverName: string | undefined;
  /** The ALPN protocols offered, in the client's order (empty when the extension is absent). */
  alpn: string[];
}

const RECORD_HEADER = 5;
const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXTENSION_SERVER_NAME = 0;
const EXTENSION_ALPN = 16;
/** A record's fragment may be 2^14 bytes (RFC 8446 §5.1). */
const MAX_RECORD = 1 << 14;

function bad(message: string): PortunusError {
  return new PortunusError('ERR_PORTUNUS_BAD_REQUEST', `TLS ClientHello: ${message}`);
}

/** True when `bytes` can only be TLS: a handshake record of version 3.x. */
export function looksLikeTls(bytes: Buffer): boolean {
  return bytes.length > 0 && bytes[0] === CONTENT_HANDSHAKE && (bytes.length < 2 || bytes[1] === 3);
}

/**
 * Reads the ClientHello at the start of `bytes` (TLS records as the client sent them). Returns undefined
 * while more bytes are needed; throws ERR_PORTUNUS_BAD_REQUEST as soon as they cannot be one.
 */
export function readClientHello(bytes: Buffer): ClientHelloInfo | undefined {
  const handshake = handshakeBytes(bytes);
  if (handshake === undefined) return undefined;
  return parseClientHello(handshake);
}

/**
 * The ClientHello handshake message, reassembled from the handshake records it spans; undefined until all of
 * it arrived.
 */
function handshakeBytes(bytes: Buffer): Buffer | undefined {
  const fragments: Buffer[] = [];
  let collected = 0;
  let needed: number | undefined;
  let offset = 0;
  for (;;) {
    if (bytes.length < offset + RECORD_HEADER) return undefined;
    if (bytes[offset] !== CONTENT_HANDSHAKE)
      throw bad(`record of content type ${bytes[offset]} before the hello ended`);
    if (bytes[offset + 1] !== 3) throw bad(`record version ${bytes[offset + 1]}.${bytes[offset + 2]}`);
    const length = bytes.readUInt16BE(offset + 3);
    if (length === 0 || length > MAX_RECORD) throw bad(`record of ${length} bytes`);
    const available = Math.min(length, bytes.length - offset - RECORD_HEADER);
    fragments.push(bytes.subarray(offset + RECORD_HEADER, offset + RECORD_HEADER + available));
    collected += available;
    if (needed === undefined && collected >= 4) {
      const head = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments, collected);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) throw bad(`handshake message type ${head[0]}, not a ClientHello`);
      needed = 4 + head.readUIntBE(1, 3);
    }
    if (needed !== undefined && collected >= needed)
      // Nearly always one record: its fragment is the message, no copy needed.
      return (fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments, collected)).subarray(0, needed);
    if (available < length) return undefined;
    offset += RECORD_HEADER + length;
  }
}

/**
 * A cursor over a bounded range of one buffer: every read checks the range first. Fields are read in place
 * and a vector is a Reader over a narrower range of the same buffer: the router parses a ClientHello per
 * connection, and a Buffer made for every length prefix (subarray) cost more than the rest of the parse.
 */
class Reader {
  readonly #bytes: Buffer;
  readonly #end: number;
  readonly #what: string;
  #offset: number;

  constructor(bytes: Buffer, start: number, end: number, what: string) {
    this.#bytes = bytes;
    this.#offset = start;
    this.#end = end;
    this.#what = what;
  }

  get left(): number {
    return this.#end - this.#offset;
  }

  /** Moves past `length` bytes; returns where they start. */
  skip(length: number): number {
    if (length > this.left) throw bad(`${this.#what} cut short`);
    const start = this.#offset;
    this.#offset += length;
    return start;
  }

  u8(): number {
    return this.#bytes[this.skip(1)]!;
  }

  u16(): number {
    return this.#bytes.readUInt16BE(this.skip(2));
  }

  /** The rest of the range as latin1 text (names are ASCII; latin1 maps every byte to one character). */
  rest(): string {
    const start = this.skip(this.left);
    return this.#bytes.toString('latin1', start, this.#end);
  }

  /** A vector with a length prefix of `prefix` bytes, as a Reader of its own. */
  vector(prefix: 1 | 2, what: string): Reader {
    const length = prefix === 1 ? this.u8() : this.u16();
    const start = this.skip(length);
    return new Reader(this.#bytes, start, start + length, what);
  }
}

function parseClientHello(message: Buffer): ClientHelloInfo {
  const hello = new Reader(message, 4, message.length, 'ClientHello');
  hello.skip(2 + 32); // legacy_version, random
  const sessionId = hello.vector(1, 'session id');
  if (sessionId.left > 32) throw bad('session id longer than 32 bytes');
  const ciphers = hello.vector(2, 'cipher suites');
  if (ciphers.left === 0 || ciphers.left % 2 !== 0) throw bad('malformed cipher suites');
  if (hello.vector(1, 'compression methods').left === 0) throw bad('no compression method');
  const info: ClientHelloInfo = { serverName: undefined, alpn: [] };
  // SSL 3.0-style hellos end here: no extensions, so no name.
  if (hello.left === 0) return info;
  const extensions = hello.vector(2, 'extensions');
  if (hello.left !== 0) throw bad('bytes after the extensions');
  const seen = new Set<number>();
  while (extensions.left > 0) {
    const type = extensions.u16();
    const data = extensions.vector(2, `extension ${type}`);
    if (seen.has(type)) throw bad(`extension ${type} twice`);
    seen.add(type);
    if (type === EXTENSION_SERVER_NAME) info.serverName = serverName(data);
    else if (type === EXTENSION_ALPN) info.alpn = protocols(data);
  }
  return info;
}

function serverName(data: Reader): string | undefined {
  const list = data.vector(2, 'server name list');
  let name: string | undefined;
  while (list.left > 0) {
    const type = list.u8();
    const entry = list.vector(2, 'server name');
    // Only host_name (0) is defined; one of each type at most (RFC 6066 §3).
    if (type !== 0) continue;
    if (name !== undefined) throw bad('two host names');
    const text = entry.rest();
    name = hostName(text);
    if (name === undefined) throw bad(`server name ${JSON.stringify(text.slice(0, 64))} is not a host name`);
  }
  return name;
}

function protocols(data: Reader): string[] {
  const list = data.vector(2, 'ALPN list');
  const names: string[] = [];
  while (list.left > 0) {
    const entry = list.vector(1, 'ALPN protocol');
    if (entry.left === 0) throw bad('empty ALPN protocol');
    names.push(entry.rest());
  }
  return names;
}
