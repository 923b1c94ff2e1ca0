/**
 * The first line of a tcpmux connection (RFC 1078): the service name, ended by CRLF (or a bare LF, which
 * clients such as `nc` send). Parsed from the bytes read so far, with everything after the line kept for the
 * service.
 * @module
 */
import { normaliseServiceName } from './service-name.js';

/** What the bytes read so far say. */
export type NameLine =
  /** A whole, valid line: the name in lower case, and the bytes the client sent after it. */
  | { kind: 'name'; name: string; rest: Buffer }
  /** No line end yet, and fewer than `maxLength` + 2 bytes: more may come. */
  | { kind: 'partial' }
  /** No line end within `maxLength` + 2 bytes, or a line whose name is longer than `maxLength`. */
  | { kind: 'too-long' }
  /** A line whose name is empty or has characters a service name cannot have. */
  | { kind: 'invalid' };

const LF = 0x0a;
const CR = 0x0d;

/** True once the bytes hold a line end: reading can stop. */
export function hasLineEnd(bytes: Buffer): boolean {
  return bytes.includes(LF);
}

/** Parses the name line from the start of `bytes`; names longer than `maxLength` bytes are 'too-long'. */
export function parseNameLine(bytes: Buffer, maxLength: number): NameLine {
  const end = bytes.indexOf(LF);
  if (end < 0) return bytes.length >= maxLength + 2 ? { kind: 'too-long' } : { kind: 'partial' };
  const lineEnd = end > 0 && bytes[end - 1] === CR ? end - 1 : end;
  if (lineEnd > maxLength) return { kind: 'too-long' };
  // latin1 keeps one character per byte, so a non-ASCII byte fails the pattern instead of becoming U+FFFD.
  const name = normaliseServiceName(bytes.toString('latin1', 0, lineEnd), maxLength);
  if (name === undefined) return { kind: 'invalid' };
  return { kind: 'name', name, rest: bytes.subarray(end + 1) };
}
