/**
 * The PROXY protocol (HAProxy's, versions 1 and 2): the header a proxy or load balancer puts in front of a
 * connection to say who the real client is. Decoding is bounded and defensive (a header longer than
 * {@link PROXY_HEADER_MAX_BYTES}, a wrong signature or a malformed field is an error, never a crash or an
 * unbounded read); encoding makes the header portunus writes in front of a connection it hands to a service
 * that asked for one. Lives in the dispatch layer because the dispatcher consumes it; the router above uses it
 * through the door.
 * @module
 */
import net from 'node:net';
import { PortunusError } from '../errors.js';

/** Who the connection is really from and to, as a PROXY protocol header says. */
export interface ProxyHeader {
  /** 1 (text) or 2 (binary). */
  version: 1 | 2;
  /**
   * 'proxy': the addresses are the real client's and the proxy's listener. 'local': the proxy's own
   * connection (a health check); v1's UNKNOWN and v2's address families other than TCP over IPv4/IPv6 are
   * 'local' too: no addresses follow.
   */
  command: 'proxy' | 'local';
  /** 'tcp4', 'tcp6', or 'unknown' (no addresses). */
  family: 'tcp4' | 'tcp6' | 'unknown';
  /** The real client's address (absent for 'local'). */
  sourceAddress?: string;
  /** The real client's port. */
  sourcePort?: number;
  /** The address the client connected to, at the proxy. */
  destinationAddress?: string;
  /** The port the client connected to, at the proxy. */
  destinationPort?: number;
}

/** A decoded header and how many bytes of the stream it took. */
export interface DecodedProxyHeader {
  header: ProxyHeader;
  /** Bytes the header took; the connection's own bytes start there. */
  length: number;
}

/**
 * Longest header accepted: v1's maximum is 107 bytes; a v2 header carries TLVs after its addresses (HAProxy
 * sends a few dozen bytes of them), so a v2 header may take this many bytes in all before it is refused.
 */
export const PROXY_HEADER_MAX_BYTES = 1024;

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V1_MAX_BYTES = 107;
const V2_FIXED_BYTES = 16;

function malformed(message: string): PortunusError {
  return new PortunusError('ERR_PORTUNUS_PROXY_PROTOCOL', `PROXY protocol header: ${message}`);
}

/** True while `bytes` could still be the start of `prefix` (or already is all of it). */
function startsLike(bytes: Buffer, prefix: Buffer): boolean {
  const n = Math.min(bytes.length, prefix.length);
  return bytes.subarray(0, n).equals(prefix.subarray(0, n));
}

/**
 * Decodes the PROXY header at the start of `bytes`. Returns undefined while more bytes are needed; throws
 * ERR_PORTUNUS_PROXY_PROTOCOL as soon as the bytes cannot be a valid header (no header at all included).
 */
export function decodeProxyHeader(bytes: Buffer): DecodedProxyHeader | undefined {
  if (bytes.length === 0) return undefined;
  if (startsLike(bytes, V2_SIGNATURE)) return bytes.length < V2_FIXED_BYTES ? undefined : decodeV2(bytes);
  if (startsLike(bytes, V1_PREFIX)) return decodeV1(bytes);
  throw malformed('missing (the connection does not start with a v1 or v2 signature)');
}

function decodeV1(bytes: Buffer): DecodedProxyHeader | undefined {
  const end = bytes.indexOf('\r\n', 0, 'latin1');
  const lineFeed = bytes.indexOf(0x0a);
  if (lineFeed >= 0 && lineFeed !== end + 1) throw malformed('v1 line does not end with CRLF');
  if (end < 0) {
    if (bytes.length >= V1_MAX_BYTES) throw malformed(`v1 line longer than ${V1_MAX_BYTES} bytes`);
    return undefined;
  }
  if (end + 2 > V1_MAX_BYTES) throw malformed(`v1 line longer than ${V1_MAX_BYTES} bytes`);
  const fields = bytes.toString('latin1', 0, end).split(' ');
  const length = end + 2;
  if (fields[1] === 'UNKNOWN') return { header: { version: 1, command: 'local', family: 'unknown' }, length };
  if (fields.length !== 6) throw malformed('v1 line does not have 6 fields');
  const [, protocol, source, destination, sourcePort, destinationPort] = fields as [string, ...string[]];
  const family = protocol === 'TCP4' ? 'tcp4' : protocol === 'TCP6' ? 'tcp6' : undefined;
  if (family === undefined) throw malformed(`v1 protocol ${JSON.stringify(protocol)} is not TCP4, TCP6 or UNKNOWN`);
  const ipVersion = family === 'tcp4' ? 4 : 6;
  if (net.isIP(source!) !== ipVersion || net.isIP(destination!) !== ipVersion)
    throw malformed(`v1 addresses are not ${protocol} addresses`);
  return {
    header: {
      version: 1,
      command: 'proxy',
      family,
      sourceAddress: source!,
      sourcePort: v1Port(sourcePort!),
      destinationAddress: destination!,
      destinationPort: v1Port(destinationPort!),
    },
    length,
  };
}

function v1Port(text: string): number {
  // Decimal without leading zeros, as the specification says; 0 is allowed.
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text) || Number(text) > 65535) throw malformed(`v1 port ${JSON.stringify(text)}`);
  return Number(text);
}

function decodeV2(bytes: Buffer): DecodedProxyHeader | undefined {
  const versionCommand = bytes[12]!;
  if (versionCommand >> 4 !== 2) throw malformed(`v2 version ${versionCommand >> 4}`);
  const command = versionCommand & 0x0f;
  if (command > 1) throw malformed(`v2 command ${command}`);
  const familyProtocol = bytes[13]!;
  const addressLength = bytes.readUInt16BE(14);
  const length = V2_FIXED_BYTES + addressLength;
  if (length > PROXY_HEADER_MAX_BYTES)
    throw malformed(`v2 header of ${length} bytes (at most ${PROXY_HEADER_MAX_BYTES})`);
  if (bytes.length < length) return undefined;
  const local = { header: { version: 2, command: 'local', family: 'unknown' } as ProxyHeader, length };
  // LOCAL: the proxy's own connection; whatever addresses follow are to be ignored.
  if (command === 0) return local;
  const body = bytes.subarray(V2_FIXED_BYTES, length);
  // Stream over IPv4 (0x11) or IPv6 (0x21); anything else (UDP, Unix, UNSPEC) carries no TCP client.
  if (familyProtocol === 0x11) {
    if (addressLength < 12) throw malformed('v2 TCP4 addresses shorter than 12 bytes');
    return {
      header: {
        version: 2,
        command: 'proxy',
        family: 'tcp4',
        sourceAddress: [...body.subarray(0, 4)].join('.'),
        destinationAddress: [...body.subarray(4, 8)].join('.'),
        sourcePort: body.readUInt16BE(8),
        destinationPort: body.readUInt16BE(10),
      },
      length,
    };
  }
  if (familyProtocol === 0x21) {
    if (addressLength < 36) throw malformed('v2 TCP6 addresses shorter than 36 bytes');
    return {
      header: {
        version: 2,
        command: 'proxy',
        family: 'tcp6',
        sourceAddress: ipv6Text(body.subarray(0, 16)),
        destinationAddress: ipv6Text(body.subarray(16, 32)),
        sourcePort: body.readUInt16BE(32),
        destinationPort: body.readUInt16BE(34),
      },
      length,
    };
  }
  return local;
}

function ipv6Text(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Through SocketAddress for the canonical (compressed) form Node itself reports.
  return new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

/** The addresses a PROXY header written by portunus carries. */
export interface ProxyAddresses {
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
}

/**
 * Encodes a PROXY header for a TCP connection. Addresses of different families (an IPv4 client on an IPv6
 * listener, ::ffff:a.b.c.d) are written as IPv6 unless both are IPv4 or IPv4-mapped. Without addresses, or
 * with unparsable ones, the header says UNKNOWN (v1) or LOCAL (v2).
 */
export function encodeProxyHeader(version: 1 | 2, addresses: Partial<ProxyAddresses> | undefined): Buffer {
  const source = normalise(addresses?.sourceAddress);
  const destination = normalise(addresses?.destinationAddress);
  const sourcePort = addresses?.sourcePort;
  const destinationPort = addresses?.destinationPort;
  const known =
    source !== undefined && destination !== undefined && sourcePort !== undefined && destinationPort !== undefined;
  const four = known && net.isIPv4(source) && net.isIPv4(destination);
  const src = known && !four ? toIpv6(source) : source;
  const dst = known && !four ? toIpv6(destination) : destination;
  if (version === 1) {
    if (!known) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
    return Buffer.from(`PROXY ${four ? 'TCP4' : 'TCP6'} ${src} ${dst} ${sourcePort} ${destinationPort}\r\n`, 'latin1');
  }
  if (!known) return Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  const body = four
    ? Buffer.concat([ipv4Bytes(src!), ipv4Bytes(dst!), ports(sourcePort, destinationPort)])
    : Buffer.concat([ipv6Bytes(src!), ipv6Bytes(dst!), ports(sourcePort, destinationPort)]);
  const head = Buffer.from([0x21, four ? 0x11 : 0x21, 0, 0]);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, head, body]);
}

function normalise(address: string | undefined): string | undefined {
  if (address === undefined || net.isIP(address) === 0) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped === null ? address : mapped[1];
}

function toIpv6(address: string): string {
  return net.isIPv4(address) ? `::ffff:${address}` : address;
}

function ports(source: number, destination: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt16BE(source, 0);
  bytes.writeUInt16BE(destination, 2);
  return bytes;
}

function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number));
}

function ipv6Bytes(address: string): Buffer {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -dotted[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head === '' ? [] : head!.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const bytes = Buffer.alloc(16);
  [...headGroups, ...zeros, ...tailGroups].forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
}
