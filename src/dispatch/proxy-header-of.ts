/**
 * Where a worker finds the real client of a connection that came through a PROXY protocol header: the
 * dispatcher consumed the header and sent it as the handoff's metadata; adoptConnections() records it here
 * against the adopted socket, for as long as the socket lives.
 * @module
 */
import type net from 'node:net';
import type { ProxyHeader } from './proxy-protocol.js';

const headers = new WeakMap<object, ProxyHeader>();

/** @internal adoptConnections() records the header a connection arrived with. */
export function recordProxyHeader(socket: net.Socket, metadata: unknown): void {
  const proxy = (metadata as { proxy?: unknown } | null | undefined)?.proxy;
  if (typeof proxy === 'object' && proxy !== null) headers.set(socket, proxy as ProxyHeader);
}

/**
 * The PROXY protocol header a connection handed to this worker arrived with (the dispatcher's
 * `acceptProxyProtocol`), or undefined. `socket` is the socket the server was given (`request.socket` in an
 * http server) or, for TLS servers, the TLS socket built on it (`request.socket` in an https server): its
 * underlying socket is looked up too. `sourceAddress` and `sourcePort` are the real client's.
 */
export function proxyHeaderOf(socket: net.Socket): ProxyHeader | undefined {
  const found = headers.get(socket);
  if (found !== undefined) return found;
  // A TLSSocket wraps the adopted socket; Node keeps it as _parent (there is no public name for it).
  const parent = (socket as { _parent?: object } | null | undefined)?._parent;
  return parent === undefined || parent === null ? undefined : headers.get(parent);
}
