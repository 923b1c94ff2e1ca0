/**
 * acceptAndDispatch() options: validation and defaults in one place, checked synchronously before anything
 * is opened or started. Times are in milliseconds.
 * @module
 */
import type net from 'node:net';
import { invalidArgument } from '../errors.js';
import {
  validateBoolean,
  validateFunction,
  validateInteger,
  validateObject,
  validateOptions,
  validateTimeout,
} from '../validate.js';
import { validateListenOption } from './listen-socket.js';
import type { PreviewOptions, RoutePreview } from './preview.js';
import { resolveStrategy, type Strategy } from './strategies.js';
import { isWorkerSet, type DispatchWorker, type WorkerSet } from './worker-set.js';

/**
 * Where `route()` sends a connection: a worker, the name of a group, undefined for the default group, a
 * {@link RouteDecision} (the same, with a PROXY header for the worker), or a {@link RouteAnswer} (no worker:
 * answer the client and close).
 */
export type RouteTarget = DispatchWorker | string | undefined | RouteDecision | RouteAnswer;

/** A route with options: the group, and whether the worker is to see a PROXY protocol header first. */
export interface RouteDecision {
  /** The group's name; undefined for the default group. */
  group?: string;
  /**
   * Put a PROXY protocol header of this version in front of the bytes the worker reads, for a service that
   * wants one (it names the client: the PROXY header the connection came with, else the peer's address).
   */
  sendProxyProtocol?: 1 | 2;
}

/**
 * No worker gets the connection: `answer` is written to the client (an HTTP error response, a TLS alert),
 * the sending side is closed, and the connection is closed once the client closes its side or after a
 * short linger (so that the answer is not lost to a reset). Counted as dropped, with `error`.
 */
export interface RouteAnswer {
  /** The bytes to send before closing. */
  answer: Uint8Array;
  /** Why: reported by the dispatcher's `'drop'` event. */
  error: Error;
}

/** Options of `acceptAndDispatch()`. */
export interface AcceptAndDispatchOptions {
  /**
   * TCP listen options (port 0 for any); Unix listen options (`{ path }`: the socket file is made 0600 unless
   * `readableAll`/`writableAll` open it, its directory 0700 when missing, and `close()` unlinks it); or a
   * listening TCP or Unix net.Server to take over (a socket file Node bound for it is unlinked by `close()`,
   * one from `{ fd }` is left to its maker). Connections from a Unix listener reach workers as Unix sockets.
   */
  listen: net.ListenOptions | net.Server;
  /** The workers: one set, or named groups (the first is the default group). */
  pool: WorkerSet | Record<string, WorkerSet>;
  /** How to pick a worker within a group. Default 'round-robin'. */
  strategy?: Strategy;
  /**
   * Chooses a worker or a group after reading a bounded prefix of the connection (`preRead`). The bytes
   * read travel with the socket, so the worker sees the connection from its first byte.
   */
  route?: (preview: RoutePreview) => RouteTarget | Promise<RouteTarget>;
  /**
   * How much `route()` may read: default { maxBytes: 4096, timeoutMs: 5000, complete: () => true } (route on
   * the first bytes that arrive; give `complete` to wait for more, e.g. a whole HTTP request head).
   */
  preRead?: Partial<PreviewOptions>;
  /**
   * Accepted connections held while no worker has room (queued, or being read for `route()`), before
   * accepting stops. Default 128.
   */
  maxPending?: number;
  /**
   * Times workers may refuse one connection (fail to adopt it) before it is closed. A worker dying with the
   * connection in flight does not count. Default 3.
   */
  maxAttempts?: number;
  /**
   * How long a worker may take to acknowledge a handoff, in ms. A worker that misses it is not adopting
   * connections: it is reported (`'unhealthy'`), gets no more connections, and its set is asked to end it
   * (a WorkerPool kills and replaces it); everything it had not acknowledged then goes to another worker.
   * Default 5000. Acted on between 1× and 1.5× this time (one timer checks every deadline, never early).
   */
  ackTimeoutMs?: number;
  /**
   * How long an accepted connection may wait for a worker with room, in ms. When it passes the connection is
   * closed (`'drop'` with ERR_PORTUNUS_QUEUE_TIMEOUT), so that clients of a pool that cannot start get an
   * answer instead of waiting forever. Default 10 000; acted on between 1× and 1.5× this time.
   */
  queueTimeoutMs?: number;
  /**
   * Every connection starts with a PROXY protocol header (v1 or v2, as HAProxy's `send-proxy` and
   * `send-proxy-v2` write it) naming the real client. The dispatcher reads and removes it (within
   * `preRead.timeoutMs`), gives its source to `route()` and the strategy as the client's address, and hands it
   * to the worker as adoption metadata (`proxyHeaderOf(socket)` in the worker). A connection whose header is
   * missing, malformed or late is closed and counted (`stats().proxyProtocolErrors`). Default false. Only for
   * listeners that nobody but the proxy can reach: the header is believed.
   */
  acceptProxyProtocol?: boolean;
}

/** The options as the dispatcher uses them. */
export interface ResolvedDispatchOptions {
  listen: net.ListenOptions | net.Server;
  groups: Map<string, WorkerSet>;
  strategy: Strategy;
  route: AcceptAndDispatchOptions['route'];
  preview: PreviewOptions;
  maxPending: number;
  maxAttempts: number;
  ackTimeoutMs: number;
  queueTimeoutMs: number;
  acceptProxyProtocol: boolean;
}

const POSITIVE_INTEGERS = ['maxPending', 'maxAttempts'] as const;
const TIMEOUTS = ['ackTimeoutMs', 'queueTimeoutMs'] as const;

/** Validates `options` (throwing ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE) and fills in the defaults. */
export function resolveDispatchOptions(options: AcceptAndDispatchOptions): ResolvedDispatchOptions {
  validateObject(options, 'options');
  validateListenOption(options.listen);
  const groups = new Map<string, WorkerSet>();
  if (isWorkerSet(options.pool)) groups.set('default', options.pool);
  else if (typeof options.pool === 'object' && options.pool !== null)
    for (const [name, set] of Object.entries(options.pool)) groups.set(name, set);
  if (groups.size === 0 || ![...groups.values()].every(isWorkerSet))
    throw invalidArgument('options.pool', 'a WorkerPool or a record of WorkerPools', options.pool);
  for (const key of POSITIVE_INTEGERS)
    if (options[key] !== undefined) validateInteger(options[key], `options.${key}`, 1);
  for (const key of TIMEOUTS) if (options[key] !== undefined) validateTimeout(options[key], `options.${key}`);
  if (options.route !== undefined) validateFunction(options.route, 'options.route');
  const preRead = validateOptions(options.preRead, 'options.preRead');
  if (preRead.maxBytes !== undefined) validateInteger(preRead.maxBytes, 'options.preRead.maxBytes', 1);
  if (preRead.timeoutMs !== undefined) validateTimeout(preRead.timeoutMs, 'options.preRead.timeoutMs');
  if (preRead.complete !== undefined) validateFunction(preRead.complete, 'options.preRead.complete');
  if (options.acceptProxyProtocol !== undefined)
    validateBoolean(options.acceptProxyProtocol, 'options.acceptProxyProtocol');
  const strategy = options.strategy ?? 'round-robin';
  resolveStrategy(strategy);
  return {
    listen: options.listen,
    groups,
    strategy,
    route: options.route,
    preview: {
      maxBytes: preRead.maxBytes ?? 4096,
      timeoutMs: preRead.timeoutMs ?? 5000,
      complete: preRead.complete ?? (() => true),
    },
    maxPending: options.maxPending ?? 128,
    maxAttempts: options.maxAttempts ?? 3,
    ackTimeoutMs: options.ackTimeoutMs ?? 5000,
    queueTimeoutMs: options.queueTimeoutMs ?? 10_000,
    acceptProxyProtocol: options.acceptProxyProtocol ?? false,
  };
}
