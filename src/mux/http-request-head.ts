/**
 * Reading an HTTP/1 request head just far enough to route the connection: method, path and Host. The bytes
 * are not changed or consumed: the service parses the same head again, from the first byte. Only what
 * routing needs is checked (a request line, header lines, one Host); the service's own parser judges the rest.
 * @module
 */
import { PortunusError } from '../errors.js';
import { hostOfAuthority } from './host-name.js';

/** What the router needs of a request head. */
export interface RequestHead {
  /** The request method. */
  method: string;
  /** The path of the request target, without its query ('/' for '*' and authority-form targets). */
  path: string;
  /** The host: from an absolute-form target, else the Host header; undefined when neither names one. */
  host: string | undefined;
  /** Bytes the head takes, blank line included. */
  length: number;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/1\.[01]$/;

function bad(message: string): PortunusError {
  return new PortunusError('ERR_PORTUNUS_BAD_REQUEST', `HTTP request head: ${message}`);
}

/** Where the head ends (just past its blank line), or -1 while it has not ended. Bare LFs are accepted. */
export function headEnd(bytes: Buffer): number {
  const crlf = bytes.indexOf('\r\n\r\n', 0, 'latin1');
  const lf = bytes.indexOf('\n\n', 0, 'latin1');
  if (crlf < 0) return lf < 0 ? -1 : lf + 2;
  return lf >= 0 && lf < crlf ? lf + 2 : crlf + 4;
}

/**
 * True when `bytes` cannot begin an HTTP/1 request: the first line so far has a byte no method or target has.
 * Lets the router answer garbage at once instead of waiting for a head that will never end.
 */
export function cannotBeHttp(bytes: Buffer): boolean {
  const lineEnd = bytes.indexOf(0x0a);
  const line = bytes.subarray(0, lineEnd < 0 ? bytes.length : lineEnd);
  const space = line.indexOf(0x20);
  const method = line.subarray(0, space < 0 ? line.length : space).toString('latin1');
  if (method.length > 0 && !TOKEN.test(method)) return true;
  // Control characters and bytes past ASCII do not belong in a request line (a CR only at its end).
  for (let i = 0; i < line.length; i++) {
    const byte = line[i]!;
    if (byte > 0x7e || (byte < 0x20 && !(byte === 0x0d && i === line.length - 1))) return true;
  }
  return false;
}

/**
 * Reads the request head at the start of `bytes`; undefined while it has not ended. Throws
 * ERR_PORTUNUS_BAD_REQUEST for a head that is not HTTP/1 (or names two hosts).
 */
export function readRequestHead(bytes: Buffer): RequestHead | undefined {
  const length = headEnd(bytes);
  if (length < 0) {
    if (cannotBeHttp(bytes)) throw bad('not an HTTP/1 request line');
    return undefined;
  }
  const lines = bytes.toString('latin1', 0, length).split(/\r?\n/);
  const requestLine = REQUEST_LINE.exec(lines[0]!);
  if (requestLine === null) throw bad(`request line ${JSON.stringify(lines[0]!.slice(0, 80))}`);
  const [, method, target] = requestLine as unknown as [string, string, string];
  let host: string | undefined;
  let hosts = 0;
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) throw bad(`header line ${JSON.stringify(line.slice(0, 80))}`);
    if (line.slice(0, colon).toLowerCase() !== 'host') continue;
    hosts++;
    host = hostOfAuthority(line.slice(colon + 1));
    if (host === undefined) throw bad('a Host header that names no host');
  }
  // RFC 9112 §3.2: more than one Host header is a bad request.
  if (hosts > 1) throw bad('more than one Host header');
  let path = target;
  const absolute = /^https?:\/\/([^/?#]*)([^#]*)$/i.exec(target);
  if (absolute !== null) {
    // The absolute form's authority wins over the Host header (RFC 9112 §3.2.2).
    host = hostOfAuthority(absolute[1]!);
    if (host === undefined) throw bad('an absolute target that names no host');
    path = absolute[2] === '' ? '/' : absolute[2]!;
  } else if (!target.startsWith('/')) {
    path = '/'; // '*' (OPTIONS) or an authority (CONNECT)
  }
  const query = path.indexOf('?');
  return { method, path: query < 0 ? path : path.slice(0, query), host, length };
}
