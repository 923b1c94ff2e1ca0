/**
 * distributeTransport(): hand a live socket, server or UDP socket to the process at the other end of a
 * channel.
 * @module
 */
import type { Channel } from '../channel/channel.js';
import { invalidArgument } from '../errors.js';
import { prepareTransport, type Transport } from './kinds.js';
import { sessionOf, type Handoff } from './session.js';

/** Options of `distributeTransport()`. */
export interface DistributeOptions {
  /** JSON-serialisable data for the adopter (`adopted.metadata`). */
  metadata?: unknown;
  /**
   * Bytes already read from the socket that the adopter must see first (a protocol preamble the sender
   * consumed to route the connection, say). Bytes Node buffered but nobody read are added after them
   * automatically.
   */
  preRead?: Buffer;
  /**
   * Keep this process's copy open after the peer adopts it. Default false: the copy is closed (never shut
   * down) once the peer acknowledges. With true, a listener is served by both processes.
   */
  keepOpen?: boolean;
}

/**
 * Hands `transport` to the peer of `channel`. Resolves when the peer has adopted it and said so; by then
 * this process's copy is closed (unless `keepOpen`).
 *
 * Ownership: until the promise settles the transport stays this process's and must not be used; it is not
 * read from meanwhile. If the promise rejects (the peer refused it, the channel closed first, the kind
 * cannot travel on this backend) the caller still owns the transport, exactly as it was, bytes buffered by
 * Node included, and may serve it or hand it to someone else.
 *
 * Sockets accepted with `pauseOnConnect: true` have read nothing: that is the fast path. A socket with
 * writes still queued in Node is handed off once they have reached the kernel.
 */
export async function distributeTransport(channel: Channel, transport: Transport, options: DistributeOptions = {}): Promise<Handoff> {
  if (options.preRead !== undefined && !Buffer.isBuffer(options.preRead)) throw invalidArgument('options.preRead', 'a Buffer', options.preRead);
  if (options.metadata !== undefined) JSON.stringify(options.metadata);
  const pendingWrites = (transport as { writableLength?: number }).writableLength;
  if (typeof pendingWrites === 'number' && pendingWrites > 0) {
    await new Promise<void>((resolve) => {
      const socket = transport as import('node:net').Socket;
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }
  const prepared = prepareTransport(transport, channel.backend);
  return sessionOf(channel).send(prepared, options);
}
