/**
 * Reading the PROXY protocol header a connection starts with, bounded in bytes (PROXY_HEADER_MAX_BYTES) and
 * time: the dispatcher's `acceptProxyProtocol`, and the tcpmux server's.
 * @module
 */
import type net from 'node:net';
import { PortunusError } from '../errors.js';
import { readPreview } from './preview.js';
import { decodeProxyHeader, PROXY_HEADER_MAX_BYTES, type ProxyHeader } from './proxy-protocol.js';

/**
 * @internal Reads the header and returns it with the bytes that followed it in the same reads (the start of
 * the connection's own stream). Rejects with ERR_PORTUNUS_PROXY_PROTOCOL for a missing or malformed header,
 * one not complete within `timeoutMs`, or a client that ended first; with the socket's error if it failed.
 * The socket is left paused, its listeners removed.
 */
export async function readProxyHeader(
  socket: net.Socket,
  timeoutMs: number,
): Promise<{ proxy: ProxyHeader; rest: Buffer }> {
  const read = await readPreview(socket, {
    maxBytes: PROXY_HEADER_MAX_BYTES,
    timeoutMs,
    complete: (bytes) => decodeProxyHeader(bytes) !== undefined,
  });
  // Throws for a malformed or missing header.
  const decoded = decodeProxyHeader(read.bytes);
  if (decoded === undefined)
    throw new PortunusError(
      'ERR_PORTUNUS_PROXY_PROTOCOL',
      read.timedOut
        ? `PROXY protocol header: not complete within ${timeoutMs} ms`
        : 'PROXY protocol header: the client closed before the header was complete',
    );
  return { proxy: decoded.header, rest: read.bytes.subarray(decoded.length) };
}
