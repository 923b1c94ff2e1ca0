/**
 * distributeTransport(): hand a live socket, server or UDP socket to the process at the other end of a
 * channel; and distributeAcceptedFd(), the dispatcher's cheaper way for connections it accepted itself.
 * @module
 */
import { Channel } from '../channel/index.js';
import { invalidArgument } from '../errors.js';
import { validateBoolean, validateBytes, validateInstance, validateOptions } from '../validate.js';
import { sharedListener } from './kinds/server.js';
import { acceptedConnection } from './kinds/socket.js';
import { prepareTransport, validateTransport, type Transport } from './kinds/table.js';
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
  preRead?: Uint8Array;
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
export function distributeTransport(
  channel: Channel,
  transport: Transport,
  options?: DistributeOptions,
): Promise<Handoff> {
  // Bad arguments throw here, synchronously, with the transport untouched.
  validateInstance(channel, 'channel', Channel, 'a Channel');
  validateTransport(transport);
  const { metadata, preRead, keepOpen } = validateOptions(options);
  if (preRead !== undefined) validateBytes(preRead, 'options.preRead');
  if (keepOpen !== undefined) validateBoolean(keepOpen, 'options.keepOpen');
  if (metadata !== undefined) {
    try {
      JSON.stringify(metadata);
    } catch (cause) {
      // A cycle or a BigInt: the envelope could not be encoded.
      throw Object.assign(invalidArgument('options.metadata', 'JSON-serialisable', metadata, 'value'), { cause });
    }
  }
  // The session writes pre-read bytes with Buffer methods: view a plain Uint8Array as a Buffer (no copy).
  const bytes =
    preRead === undefined || Buffer.isBuffer(preRead)
      ? preRead
      : Buffer.from(preRead.buffer, preRead.byteOffset, preRead.byteLength);
  return handOff(channel, transport, { metadata, preRead: bytes, keepOpen });
}

/** The options of a handoff that has none. */
const NO_OPTIONS = {};
const KEEP_OPEN = { keepOpen: true };

/**
 * @internal The dispatcher's way to hand off a TCP or Unix stream connection (`kind`) it accepted as a raw descriptor and never
 * made a Node object of: nothing to check, describe or detach, so the envelope carries the kind alone and
 * the adopter's check of it stays the cheap one. `options` (a routed connection): `preRead`, bytes the
 * adopter reads before the socket's own (a PROXY header for the service), and `metadata` for it (the PROXY
 * header the connection came with); the bytes route() looked at are still in the socket. Ownership as with
 * distributeTransport(): `fd` stays the caller's until the promise resolves, which it does once it is
 * closed; after a rejection it is still the caller's, open.
 */
export function distributeAcceptedFd(
  channel: Channel,
  fd: number,
  kind: 'tcp' | 'unix' = 'tcp',
  options: { preRead?: Buffer; metadata?: unknown } = NO_OPTIONS,
): Promise<Handoff> {
  return sessionOf(channel).send(acceptedConnection(fd, kind), options);
}

/**
 * @internal Sends a listening socket this process holds as a raw descriptor (no Node object) and keeps
 * accepting nothing on it itself: the listener modes of the dispatch layer share one listener with every
 * worker. Resolves on the peer's ACK; the descriptor stays open and this process's to close.
 */
export function distributeListenerFd(channel: Channel, fd: number): Promise<Handoff> {
  return sessionOf(channel).send(sharedListener(fd), KEEP_OPEN);
}

async function handOff(
  channel: Channel,
  transport: Transport,
  options: { metadata: unknown; preRead: Buffer | undefined; keepOpen: boolean | undefined },
): Promise<Handoff> {
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
