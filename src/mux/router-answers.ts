/**
 * What the router says to a client it routes nowhere, before it closes: an HTTP/1 error response, or a fatal
 * TLS alert (the front cannot finish a handshake it does not terminate, so an alert is the whole answer).
 * @module
 */

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  421: 'Misdirected Request',
  431: 'Request Header Fields Too Large',
};

/** A complete HTTP/1.1 response with a short plain-text body, that closes the connection. */
export function httpAnswer(status: keyof typeof REASONS & number, detail: string): Buffer {
  const body = `${status} ${REASONS[status]}: ${detail}\n`;
  return Buffer.from(
    `HTTP/1.1 ${status} ${REASONS[status]}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    'utf8',
  );
}

/** TLS alert descriptions the router sends (RFC 8446 §6). */
export const TlsAlert = {
  /** The ClientHello was malformed or too large. */
  DECODE_ERROR: 50,
  /** No route for the server name (RFC 6066 §3). */
  UNRECOGNIZED_NAME: 112,
} as const;

/** A fatal alert record. Version 3.1 in the record header, as TLS 1.3 clients accept in a first flight. */
export function tlsAlert(description: number): Buffer {
  return Buffer.from([21, 3, 1, 0, 2, 2, description]);
}
