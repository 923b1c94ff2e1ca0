/**
 * serveRouter(): one port, many services, chosen by what the client asks for: the Host and path of an HTTP/1
 * request head, or the server name and ALPN of a TLS ClientHello. The front reads just that much (bounded in
 * bytes and time), then hands the raw socket with the bytes it read to a worker of the route's pool, which
 * terminates HTTP or TLS itself: the front never proxies a byte, and never sees TLS plaintext. Built on the
 * dispatcher's route()/preRead: the pools are its named groups, and there is no second accept loop.
 * @module
 */
import type net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { fdBackend } from '../binding/index.js';
import {
  acceptAndDispatch,
  isWorkerSet,
  type Dispatcher,
  type DispatcherCloseOptions,
  type DispatchStats,
  type RoutePreview,
  type RouteTarget,
  type Strategy,
  type WorkerSet,
} from '../dispatch/index.js';
import { PortunusError, invalidArgument, systemError } from '../errors.js';
import { validateBoolean, validateInteger, validateObject, validateTimeout } from '../validate.js';
import { cannotBeHttp, headEnd, readRequestHead } from './http-request-head.js';
import { RouteTable, type RouteQuery, type RouterRoute } from './route-table.js';
import { httpAnswer, TlsAlert, tlsAlert } from './router-answers.js';
import { looksLikeTls, readClientHello, type ClientHelloInfo } from './tls-client-hello.js';

/** Options of `serveRouter()`. */
export interface ServeRouterOptions {
  /**
   * TCP listen options (port 0 for any), Unix listen options (`{ path }`), or a listening net.Server to take
   * over; as for `acceptAndDispatch()`.
   */
  listen: net.ListenOptions | net.Server;
  /** The pools routes point at, by name (the dispatcher's named groups). */
  pools: Record<string, WorkerSet>;
  /** The routes, matched in order; the first that matches takes the connection. */
  routes: RouterRoute[];
  /**
   * Longest request head or ClientHello read, in bytes. A longer HTTP head gets 431, a longer ClientHello a
   * decode_error alert. Default 16384 (Node's own limit for request heads).
   */
  maxHeadBytes?: number;
  /** How long a client may take to send its head or ClientHello, in ms; a slower one gets 408 or is closed. Default 5000. */
  headTimeoutMs?: number;
  /** Connections start with a PROXY protocol header (v1 or v2); see the dispatcher's option. Default false. */
  acceptProxyProtocol?: boolean;
  /**
   * Let the kernel hold each TCP connection until its first bytes arrive (TCP_DEFER_ACCEPT, Linux; HAProxy's
   * `defer-accept`, nginx's `deferred`), so that the router usually finds the whole ClientHello or request
   * head there at accept: one wake-up and no readiness watch per connection. A client that sends nothing is
   * accepted only after `headTimeoutMs` (rounded up to seconds) and then has `headTimeoutMs` more; the
   * router sees nothing of it until then. Set on a listening socket passed as `listen` too. Ignored for Unix
   * sockets and where the platform has no such option. Default false.
   */
  deferAccept?: boolean;
  /** How to pick a worker within a pool. Default 'round-robin'. */
  strategy?: Strategy;
  /** As the dispatcher's: accepted connections held before accepting stops. Default 128. */
  maxPending?: number;
  /** As the dispatcher's. Default 10 000. */
  queueTimeoutMs?: number;
  /** As the dispatcher's. Default 5000. */
  ackTimeoutMs?: number;
}

/** What became of the connections the router read, by outcome. */
export interface RouterCounters {
  /** Sent to a pool. */
  routed: number;
  /** HTTP: no route for the host (421). */
  misdirected: number;
  /** HTTP: a route for the host, none for the path (404). */
  notFound: number;
  /** TLS: no route for the server name (unrecognized_name alert). */
  unrecognizedName: number;
  /** Heads over `maxHeadBytes` (431, or a decode_error alert for TLS). */
  tooLarge: number;
  /** Neither HTTP/1 nor TLS, or malformed (400, or a decode_error alert). */
  badRequest: number;
  /** No complete head within `headTimeoutMs` (408, or closed if nothing came at all). */
  timedOut: number;
}

/** A snapshot of a router's counters: the dispatcher's, and the routing outcomes. */
export interface RouterStats extends DispatchStats {
  /** What became of the connections the router read. */
  routing: RouterCounters;
}

/** A routing front; see `serveRouter()`. */
export class Router {
  readonly #dispatcher: Dispatcher;
  readonly #counters: RouterCounters;

  /** @internal Use `serveRouter()`. */
  constructor(dispatcher: Dispatcher, counters: RouterCounters) {
    this.#dispatcher = dispatcher;
    this.#counters = counters;
  }

  /** The dispatcher underneath, for its events ('drop', 'handoff', 'error'…). */
  get dispatcher(): Dispatcher {
    return this.#dispatcher;
  }

  /** The address the router accepts on: TCP host and port, or a Unix socket's path. */
  address(): net.AddressInfo | string {
    return this.#dispatcher.address();
  }

  /** Counters, as a snapshot. */
  stats(): RouterStats {
    return { ...this.#dispatcher.stats(), routing: { ...this.#counters } };
  }

  /** Stops accepting and closes the listening socket; as `Dispatcher.close()`. The pools are not closed. */
  close(options?: DispatcherCloseOptions): Promise<void> {
    return this.#dispatcher.close(options);
  }
}

/**
 * Listens on `options.listen` and routes each connection to a worker of the pool its route names, with the
 * bytes read to decide. Options are checked synchronously; the promise resolves once the socket listens and
 * every pool has started. Unknown routes are answered (421 or 404 for HTTP, an unrecognized_name alert for
 * TLS) and closed; heads over `maxHeadBytes` get 431. Ownership: each connection is the router's until a
 * worker acknowledges it, then the worker's; the router owns its listening socket (`close()`).
 */
export function serveRouter(options: ServeRouterOptions): Promise<Router> {
  validateObject(options, 'options');
  validateObject(options.pools, 'options.pools', 'a record of WorkerPools');
  for (const [name, set] of Object.entries(options.pools))
    if (!isWorkerSet(set)) throw invalidArgument(`options.pools.${name}`, 'a WorkerPool', set);
  const table = new RouteTable(options.routes, new Set(Object.keys(options.pools)));
  if (options.maxHeadBytes !== undefined) validateInteger(options.maxHeadBytes, 'options.maxHeadBytes', 64);
  if (options.headTimeoutMs !== undefined) validateTimeout(options.headTimeoutMs, 'options.headTimeoutMs');
  if (options.acceptProxyProtocol !== undefined)
    validateBoolean(options.acceptProxyProtocol, 'options.acceptProxyProtocol');
  if (options.deferAccept !== undefined) validateBoolean(options.deferAccept, 'options.deferAccept');
  const headTimeoutMs = options.headTimeoutMs ?? 5000;
  const maxHeadBytes = options.maxHeadBytes ?? 16_384;
  const counters: RouterCounters = {
    routed: 0,
    misdirected: 0,
    notFound: 0,
    unrecognizedName: 0,
    tooLarge: 0,
    badRequest: 0,
    timedOut: 0,
  };
  const hellos = new LastClientHello();
  const decide = (preview: RoutePreview) => route(preview, table, maxHeadBytes, counters, hellos);
  const dispatching = acceptAndDispatch({
    listen: options.listen,
    pool: options.pools,
    route: decide,
    // One byte past the limit tells a head that is too long from one that just fits.
    preRead: {
      maxBytes: maxHeadBytes + 1,
      timeoutMs: headTimeoutMs,
      complete: (bytes) => headComplete(bytes, hellos),
    },
    acceptProxyProtocol: options.acceptProxyProtocol,
    strategy: options.strategy,
    maxPending: options.maxPending,
    queueTimeoutMs: options.queueTimeoutMs,
    ackTimeoutMs: options.ackTimeoutMs,
  });
  return dispatching.then(async (dispatcher) => {
    if (options.deferAccept === true) await deferAccept(dispatcher, Math.max(1, Math.ceil(headTimeoutMs / 1000)));
    return new Router(dispatcher, counters);
  });
}

/** TCP_DEFER_ACCEPT on the dispatcher's listening socket, where it is a TCP one and the platform has it. */
async function deferAccept(dispatcher: Dispatcher, seconds: number): Promise<void> {
  const fd = dispatcher.listeningFd();
  const peeking = fdBackend.peeking;
  if (fd === undefined || peeking?.deferAccept === undefined || typeof dispatcher.address() === 'string') return;
  const result = peeking.deferAccept(fd, seconds);
  if (result >= 0) return;
  await dispatcher.close();
  throw systemError(result, 'setsockopt', getSystemErrorName(result), fd);
}

/**
 * The ClientHello headComplete() last parsed, and the bytes it parsed it from: route() usually meets the same
 * Buffer right after (the dispatcher's peek hands complete() and route() one object), and then does not parse
 * it again. Any other bytes are parsed afresh, so a stale entry costs a parse, never a wrong route.
 */
class LastClientHello {
  #bytes: Buffer | undefined;
  #hello: ClientHelloInfo | undefined;

  read(bytes: Buffer): ClientHelloInfo | undefined {
    if (bytes === this.#bytes) return this.#hello;
    // Throws for bytes that cannot be a ClientHello: nothing is remembered then.
    const hello = readClientHello(bytes);
    this.#bytes = bytes;
    this.#hello = hello;
    return hello;
  }
}

/** Enough bytes to route: a whole ClientHello or request head, or bytes that can be neither. */
function headComplete(bytes: Buffer, hellos: LastClientHello): boolean {
  if (looksLikeTls(bytes)) return hellos.read(bytes) !== undefined;
  return headEnd(bytes) >= 0 || cannotBeHttp(bytes);
}

function route(
  preview: RoutePreview,
  table: RouteTable,
  maxHeadBytes: number,
  counters: RouterCounters,
  hellos: LastClientHello,
): RouteTarget {
  const bytes = preview.bytes;
  if (bytes.length === 0) {
    counters.timedOut++;
    // Nothing was sent: no protocol to answer in.
    return { answer: new Uint8Array(0), error: routingError('ERR_PORTUNUS_BAD_REQUEST', 'the client sent nothing') };
  }
  const tls = looksLikeTls(bytes);
  let query: RouteQuery;
  try {
    if (tls) {
      const hello = hellos.read(bytes);
      if (hello === undefined) return incomplete(preview, tls, maxHeadBytes, counters);
      query = { protocol: 'tls', host: hello.serverName, path: undefined, alpn: hello.alpn };
    } else {
      const head = readRequestHead(bytes);
      if (head === undefined) return incomplete(preview, tls, maxHeadBytes, counters);
      if (head.length > maxHeadBytes) return tooLarge(tls, maxHeadBytes, counters);
      query = { protocol: 'http', host: head.host, path: head.path, alpn: [] };
    }
  } catch (error) {
    counters.badRequest++;
    return {
      answer: tls ? tlsAlert(TlsAlert.DECODE_ERROR) : httpAnswer(400, (error as Error).message),
      error: error as Error,
    };
  }
  const match = table.match(query);
  if (match.route !== undefined) {
    counters.routed++;
    return { group: match.route.to, sendProxyProtocol: match.route.sendProxyProtocol };
  }
  const name = query.host === undefined ? 'no host' : JSON.stringify(query.host);
  if (tls) {
    counters.unrecognizedName++;
    return {
      answer: tlsAlert(TlsAlert.UNRECOGNIZED_NAME),
      error: routingError('ERR_PORTUNUS_NO_ROUTE', `no route for TLS server name ${name}`),
    };
  }
  if (match.hostKnown) {
    counters.notFound++;
    const detail = `no route for path ${JSON.stringify(query.path)} on ${name}`;
    return { answer: httpAnswer(404, detail), error: routingError('ERR_PORTUNUS_NO_ROUTE', detail) };
  }
  counters.misdirected++;
  const detail = `no route for host ${name}`;
  return { answer: httpAnswer(421, detail), error: routingError('ERR_PORTUNUS_NO_ROUTE', detail) };
}

/** The head did not end: too long, too slow, or the client stopped sending. */
function incomplete(preview: RoutePreview, tls: boolean, maxHeadBytes: number, counters: RouterCounters): RouteTarget {
  if (preview.bytes.length > maxHeadBytes) return tooLarge(tls, maxHeadBytes, counters);
  if (preview.timedOut) {
    counters.timedOut++;
    const error = routingError('ERR_PORTUNUS_BAD_REQUEST', 'the head did not arrive in time');
    return { answer: tls ? tlsAlert(TlsAlert.DECODE_ERROR) : httpAnswer(408, error.message), error };
  }
  counters.badRequest++;
  const error = routingError('ERR_PORTUNUS_BAD_REQUEST', 'the client closed before its head was complete');
  return { answer: tls ? tlsAlert(TlsAlert.DECODE_ERROR) : httpAnswer(400, error.message), error };
}

function tooLarge(tls: boolean, maxHeadBytes: number, counters: RouterCounters): RouteTarget {
  counters.tooLarge++;
  const error = routingError(
    'ERR_PORTUNUS_HEAD_TOO_LARGE',
    `${tls ? 'ClientHello' : 'request head'} longer than ${maxHeadBytes} bytes`,
  );
  return { answer: tls ? tlsAlert(TlsAlert.DECODE_ERROR) : httpAnswer(431, error.message), error };
}

function routingError(
  code: 'ERR_PORTUNUS_BAD_REQUEST' | 'ERR_PORTUNUS_NO_ROUTE' | 'ERR_PORTUNUS_HEAD_TOO_LARGE',
  message: string,
): PortunusError {
  return new PortunusError(code, message);
}
