/**
 * adoptConnections(): the worker side of a dispatching server. Every socket the master hands over becomes
 * an ordinary `'connection'` of the given net.Server (so http, https, http2, tls, Express and Fastify
 * servers work unchanged). The worker tells the master when it is ready and how many connections it has
 * open, and on DRAIN (or when the master goes away) it takes nothing new, lets open connections finish,
 * and exits.
 * @module
 */
import type net from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { inheritedChannel } from '../bootstrap/index.js';
import { Channel, type ChannelExtensionPort } from '../channel/index.js';
import { PortunusError, invalidArgument } from '../errors.js';
import { validateBoolean, validateInstance, validateOptions, validateTimeout } from '../validate.js';
import { releaseAdopted, type Adopted } from '../transport/index.js';
import { recordProxyHeader } from './proxy-header-of.js';
import { encodeLoad, WorkerFrame } from './worker-protocol.js';

/** Options of `adoptConnections()`. */
export interface AdoptConnectionsOptions {
  /** Channel to the master. Default: the inherited one (PORTUNUS_CHANNEL_FD). */
  channel?: Channel;
  /** Exit the process (code 0) once drained. Default true. */
  exitOnDrain?: boolean;
  /** While draining, how often idle keep-alive connections are closed, in ms. Default 100. */
  idleCloseIntervalMs?: number;
  /** Shortest interval between two reports of the open-connection count to the master, in ms. Default 100. */
  loadReportIntervalMs?: number;
}

/** Events of {@link WorkerConnections}, with their listener arguments. */
export interface WorkerEvents {
  /** Draining began: no new connections; `reason` says why. */
  drain: [reason: 'master' | 'channel-closed'];
  /** Every connection is closed; the process exits next unless `exitOnDrain` is false. */
  drained: [];
}

/** The worker's side of the dispatcher; `adoptConnections()` returns it. */
export class WorkerConnections extends EventEmitter<WorkerEvents> {
  readonly #server: net.Server;
  readonly #channel: Channel;
  readonly #port: ChannelExtensionPort;
  readonly #exitOnDrain: boolean;
  readonly #idleCloseIntervalMs: number;
  readonly #onTransport = (adopted: Adopted) => this.#adopt(adopted);
  /** Listeners shared by the master that this worker accepts from. */
  readonly #listeners = new Set<net.Server>();
  #open = 0;
  #adopted = 0;
  #draining = false;
  #loadTimer: NodeJS.Timeout | undefined;
  #lastLoadReport = 0;
  #reportedLoad = 0;
  readonly #loadReportIntervalMs: number;
  #idleTimer: NodeJS.Timeout | undefined;

  /** @internal Use `adoptConnections()`. */
  constructor(server: net.Server, channel: Channel, options: ResolvedWorkerOptions) {
    super();
    this.#server = server;
    this.#channel = channel;
    this.#exitOnDrain = options.exitOnDrain;
    this.#idleCloseIntervalMs = options.idleCloseIntervalMs;
    this.#loadReportIntervalMs = options.loadReportIntervalMs;
    this.#port = channel.extend({
      name: 'adoptConnections',
      frames: { [WorkerFrame.DRAIN]: () => this.drain('master') },
    });
    channel.on('transport', this.#onTransport);
    channel.once('close', () => this.drain('channel-closed'));
    channel.writeFrame(WorkerFrame.READY, JSON.stringify({ pid: process.pid }), []);
  }

  /** Connections adopted and still open. */
  get open(): number {
    return this.#open;
  }

  /** Connections adopted since start. */
  get adopted(): number {
    return this.#adopted;
  }

  /** True once draining began. */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Stops taking connections (the master re-dispatches any that arrive from now on), closes idle
   * keep-alive connections as they become idle, and emits 'drained' once none is open. Idempotent.
   */
  drain(reason: 'master' | 'channel-closed' = 'master'): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#channel.off('transport', this.#onTransport);
    for (const listener of this.#listeners) listener.close();
    this.#listeners.clear();
    this.emit('drain', reason);
    // HTTP/1 responses from now on close their connection once sent: a keep-alive client told so opens a new
    // connection (to a live worker) for its next request, whereas a busy connection is idle only between two
    // requests, so closing it as idle can reset the next request already on its way (and a client that keeps
    // it busy would hold this worker until drainTimeoutMs).
    this.#server.prependListener('request', markClose);
    const closeIdle = (this.#server as net.Server & { closeIdleConnections?: () => void }).closeIdleConnections?.bind(
      this.#server,
    );
    if (closeIdle !== undefined) {
      closeIdle();
      this.#idleTimer = setInterval(closeIdle, this.#idleCloseIntervalMs);
      this.#idleTimer.unref();
    }
    this.#checkDrained();
  }

  #adopt(adopted: Adopted): void {
    if (adopted.kind === 'tcp' || adopted.kind === 'unix') {
      recordProxyHeader(adopted.socket, adopted.metadata);
      this.#serve(adopted.socket);
    } else if (adopted.kind === 'tcp-server' || adopted.kind === 'unix-server') {
      this.#acceptFrom(adopted.server);
    } else {
      // A datagram socket or a raw descriptor is not a stream of connections: this worker does not own what
      // it cannot serve.
      releaseAdopted(adopted);
      this.#port.warn(
        new PortunusError(
          'ERR_PORTUNUS_UNSUPPORTED',
          `adoptConnections serves connections and listeners; a '${adopted.kind}' transport was closed`,
        ),
      );
    }
  }

  /**
   * A listener the master shares with its workers (serveListeners()): this worker accepts from it itself, and
   * serves what it accepts exactly like a connection handed to it. Its copy is closed when draining begins;
   * the master's copy keeps the socket, and its queue, alive for the other workers.
   */
  #acceptFrom(listener: net.Server): void {
    this.#listeners.add(listener);
    listener.on('connection', (socket) => this.#serve(socket));
    // accept() failures (EMFILE…) are Node's to retry; they must not end the worker as an unhandled 'error'.
    listener.on('error', (error) => this.#port.warn(error as PortunusError));
  }

  #serve(socket: net.Socket): void {
    // What net.Server does to every connection it accepts, and a server that accepts none cannot: its noDelay
    // (true for every http.Server) and keepAlive options. Without TCP_NODELAY a response written in parts
    // waits for the client's ACK of the first part (Nagle), as it would not under cluster or listen().
    const options = this.#server as ServerSocketOptions;
    if (options.noDelay === true) socket.setNoDelay(true);
    if (options.keepAlive === true) socket.setKeepAlive(true, (options.keepAliveInitialDelay ?? 0) * 1000);
    this.#open++;
    this.#adopted++;
    socket.once('close', () => {
      this.#open--;
      this.#scheduleLoad();
      this.#checkDrained();
    });
    this.#server.emit('connection', socket);
    this.#scheduleLoad();
  }

  /**
   * Reports the open count without waking the master for every connection: the first change after a quiet
   * period goes out at once (next loop turn), later ones at most every `loadReportIntervalMs`, carrying
   * the latest count. The master sees handoffs itself, so only the closing side of the count lags.
   */
  #scheduleLoad(): void {
    if (this.#loadTimer !== undefined || this.#channel.isClosed) return;
    const wait = Math.max(0, this.#lastLoadReport + this.#loadReportIntervalMs - Date.now());
    this.#loadTimer = setTimeout(() => {
      this.#loadTimer = undefined;
      if (this.#channel.isClosed || this.#open === this.#reportedLoad) return;
      this.#lastLoadReport = Date.now();
      this.#reportedLoad = this.#open;
      this.#channel.writeFrame(WorkerFrame.LOAD, encodeLoad(this.#open), []);
    }, wait);
    this.#loadTimer.unref();
  }

  #checkDrained(): void {
    if (!this.#draining || this.#open > 0) return;
    clearInterval(this.#idleTimer);
    clearTimeout(this.#loadTimer);
    this.emit('drained');
    if (this.#exitOnDrain) {
      void this.#channel.close().finally(() => process.exit(0));
    }
  }
}

/**
 * The per-connection options a net.Server keeps from its constructor (Node 18.1+): `keepAliveInitialDelay` in
 * seconds, as net.Server stores it.
 */
interface ServerSocketOptions {
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

/** A 'request' listener for draining servers: HTTP/1 responses not yet started end their connection. */
function markClose(
  request: { httpVersionMajor?: number },
  response: { headersSent?: boolean; setHeader?: (name: string, value: string) => unknown },
): void {
  // HTTP/2 forbids the Connection header; other servers' 'request' events are left alone.
  if (request?.httpVersionMajor === 1 && response?.headersSent === false && typeof response.setHeader === 'function')
    response.setHeader('connection', 'close');
}

/**
 * Feeds every connection the master hands to this worker into `server` as a `'connection'` event, and
 * tells the master this worker is ready. The server does not need to listen. Ownership: each adopted
 * socket belongs to the server's connection handling, as if the server had accepted it.
 */
export function adoptConnections(server: net.Server, options?: AdoptConnectionsOptions): WorkerConnections {
  if (typeof (server as { emit?: unknown })?.emit !== 'function')
    throw invalidArgument('server', 'a net.Server', server);
  const resolved = resolveWorkerOptions(options);
  return new WorkerConnections(server, resolved.channel ?? inheritedChannel(), resolved);
}

interface ResolvedWorkerOptions {
  channel: Channel | undefined;
  exitOnDrain: boolean;
  idleCloseIntervalMs: number;
  loadReportIntervalMs: number;
}

/** Validates the worker's options (throwing ERR_INVALID_ARG_*) and fills in the defaults. */
function resolveWorkerOptions(options: AdoptConnectionsOptions | undefined): ResolvedWorkerOptions {
  const given = validateOptions(options);
  if (given.channel !== undefined) validateInstance(given.channel, 'options.channel', Channel, 'a Channel');
  if (given.exitOnDrain !== undefined) validateBoolean(given.exitOnDrain, 'options.exitOnDrain');
  if (given.idleCloseIntervalMs !== undefined)
    validateTimeout(given.idleCloseIntervalMs, 'options.idleCloseIntervalMs');
  if (given.loadReportIntervalMs !== undefined)
    validateTimeout(given.loadReportIntervalMs, 'options.loadReportIntervalMs', 0);
  return {
    channel: given.channel,
    exitOnDrain: given.exitOnDrain ?? true,
    idleCloseIntervalMs: given.idleCloseIntervalMs ?? 100,
    loadReportIntervalMs: given.loadReportIntervalMs ?? 100,
  };
}
