/**
 * acceptAndDispatch(): the master side of a dispatching server. Connections are accepted natively in
 * batches, never become Node objects here, and go to workers over their channels — several per sendmsg,
 * with a window of unacknowledged handoffs per worker. The master keeps every descriptor until the worker
 * acknowledges it, so a worker that dies (even SIGKILLed) before adopting costs no connection: whatever it
 * had not acknowledged is dispatched again. When no worker has room, accepted connections wait in a small
 * bounded queue and then the master stops accepting: the kernel's backlog holds the rest.
 * @module
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { getSystemErrorName } from 'node:util';
import { EventEmitter } from 'eventemitter3';
import { fdBackend, type NativeAcceptor } from '../binding/index.js';
import { PortunusError, systemError } from '../errors.js';
import { validateTimeout } from '../validate.js';
import { distributeAcceptedFd, distributeTransport, type Handoff } from '../transport/index.js';
import {
  resolveDispatchOptions,
  type AcceptAndDispatchOptions,
  type ResolvedDispatchOptions,
  type RouteAnswer,
  type RouteTarget,
} from './dispatch-options.js';
import { listenThenStart } from './listen-socket.js';
import type { ServiceSocketFile } from './service-socket-file.js';
import { closeDrained, PeekingConnection, type Peeked } from './peek-preview.js';
import { readPreview, type RoutePreview } from './preview.js';
import { encodeProxyHeader, type ProxyHeader } from './proxy-protocol.js';
import { readProxyHeader } from './read-proxy-header.js';
import { resolveStrategy, type ResolvedStrategy } from './strategies.js';
import type { DispatchWorker, WorkerSet } from './worker-set.js';

export type { AcceptAndDispatchOptions, RouteAnswer, RouteDecision, RouteTarget } from './dispatch-options.js';

/** Options of `Dispatcher.close()`. */
export interface DispatcherCloseOptions {
  /**
   * How long accepted connections may still wait for a worker, in ms. When it passes, those still waiting
   * (queued, or being read for `route()`) are closed and dropped with ERR_PORTUNUS_CLOSE_TIMEOUT, and
   * `close()` resolves. Default: no limit.
   */
  timeoutMs?: number;
}

/** A snapshot of a dispatcher's counters, from `Dispatcher.stats()`. */
export interface DispatchStats {
  /** Connections accepted. */
  accepted: number;
  /** Connections a worker adopted and acknowledged. */
  handedOff: number;
  /** Handoffs sent and not yet acknowledged. */
  inFlight: number;
  /** Handoffs that failed (worker died, refused) and were sent again. */
  redispatched: number;
  /** Handoffs a worker refused. */
  refused: number;
  /** Connections closed without being handed off (route failure, too many attempts, client gone). */
  dropped: number;
  /** Accepted connections waiting for a worker. */
  pending: number;
  /** accept() failures (EMFILE…), each followed by a short pause. */
  acceptErrors: number;
  /** Handoffs a worker did not acknowledge within `ackTimeoutMs` (each marks its worker unhealthy). */
  ackTimeouts: number;
  /** Connections closed because their PROXY protocol header was missing, malformed or late (also in `dropped`). */
  proxyProtocolErrors: number;
  /** Per worker: id, reported load, handoffs in flight. */
  workers: Array<{
    /** Worker id. */
    id: number;
    /** Open connections, as the worker last reported. */
    load: number;
    /** Handoffs to it not yet acknowledged. */
    inFlight: number;
  }>;
}

/** Events of a {@link Dispatcher}, with their listener arguments. */
export interface DispatcherEvents {
  /** A worker acknowledged a connection. */
  handoff: [
    event: {
      /** The worker that adopted it. */
      worker: DispatchWorker;
      /** The handoff's id on that worker's channel. */
      id: number;
      /**
       * Milliseconds from the accept to the worker's acknowledgement (queueing, routing, handoff and adoption),
       * for latency metrics. Measured only while someone listens to `'handoff'`: the clock is read once per
       * accepted batch and once per acknowledgement.
       */
      latencyMs: number;
    },
  ];
  /** A handoff failed and the connection goes to another worker. */
  redispatch: [
    event: {
      /** The worker the failed attempt went to. */
      worker: DispatchWorker;
      /** Why it failed. */
      error: Error;
      /** Attempts counted against the connection so far. */
      attempts: number;
    },
  ];
  /** A connection was closed without reaching a worker. */
  drop: [
    event: {
      /** Why the connection was closed. */
      error: Error;
    },
  ];
  /**
   * A worker did not acknowledge a handoff within `ackTimeoutMs`: it gets no more connections and its set is
   * asked to end it; what it had not acknowledged goes to other workers once its channel closes.
   */
  unhealthy: [
    event: {
      /** The worker that is not adopting. */
      worker: DispatchWorker;
      /** ERR_PORTUNUS_ACK_TIMEOUT. */
      error: PortunusError;
    },
  ];
  /** accept() failed (out of descriptors, say); accepting resumes shortly. */
  error: [error: Error];
}

interface PendingConnection {
  fd: number;
  socket: net.Socket | undefined;
  preRead: Buffer | undefined;
  group: WorkerSet;
  worker: DispatchWorker | undefined;
  remoteAddress: string | undefined;
  /** The PROXY header it came with, for the worker (adoption metadata). */
  proxy: ProxyHeader | undefined;
  attempts: number;
  /** When it last started waiting for a worker, or was sent to one (the coarse `#clock`). */
  since: number;
  /** performance.now() of the accept batch that brought it in (for the handoff's `latencyMs`). */
  acceptedAt: number;
}

/** Where route()'s answer sends a connection. */
interface ResolvedTarget {
  group: WorkerSet;
  worker: DispatchWorker | undefined;
  sendProxyProtocol: 1 | 2 | undefined;
}

/** Pause before accepting again after EMFILE and friends. */
const ACCEPT_RETRY_MS = 100;
/** How long an answered connection (RouteAnswer) waits for the client to close before it is closed anyway. */
const ANSWER_LINGER_MS = 2000;

/**
 * Accepts connections on one listening socket (and, for a ListenerServer in reuseport mode, on the members no
 * worker holds) and hands each to a worker; see `acceptAndDispatch()`.
 */
export class Dispatcher extends EventEmitter<DispatcherEvents> {
  /** The listening socket this dispatcher owns (closed by close()), if any. */
  readonly #fd: number | undefined;
  readonly #address: net.AddressInfo | string;
  /** What its accepted connections are: Unix stream connections when it listens on a Unix socket. */
  readonly #connectionKind: 'tcp' | 'unix';
  /** The socket file it unlinks when it closes (a Unix listener it bound or took from a server). */
  readonly #socketFile: ServiceSocketFile | undefined;
  /**
   * An acceptor per listening socket accepted from: the own one, and those a ListenerServer lends while no
   * worker serves them (serveListener()). All start, pause and resume together.
   */
  readonly #acceptors = new Map<number, NativeAcceptor>();
  readonly #groups: Map<string, WorkerSet>;
  readonly #defaultGroup: WorkerSet;
  readonly #strategies = new Map<WorkerSet, ResolvedStrategy>();
  readonly #options: ResolvedDispatchOptions;
  readonly #pending: PendingConnection[] = [];
  /** Connections sent to a worker and not yet acknowledged, oldest first (for the acknowledgement deadline). */
  readonly #sent = new Set<PendingConnection>();
  /** Workers that missed an acknowledgement deadline: they get nothing more. */
  readonly #unhealthy = new WeakSet<DispatchWorker>();
  /** Enforces `ackTimeoutMs` and `queueTimeoutMs`; one timer for all connections. */
  readonly #deadlines: NodeJS.Timeout;
  /** Its period, in ms. */
  readonly #sweepMs: number;
  /**
   * Date.now() as of the last sweep: the time connections are stamped with, so that a handoff costs no clock
   * read. A stamp is at most one period early, and a deadline is checked one period late to make up for it.
   */
  #clock = Date.now();
  /**
   * Connections being read for route() (a PeekingConnection, or a net.Socket where the dispatcher cannot
   * peek, or one being answered); they count against maxPending like queued ones.
   */
  readonly #routing = new Set<{ destroy(error: Error): unknown }>();
  /**
   * Whether route() and acceptProxyProtocol look at connections by peeking (./peek-preview.ts), leaving the
   * bytes in the kernel and the descriptor raw. Not for Unix connections (their poll ignores SO_RCVLOWAT,
   * which waiting for more than the bytes already peeked needs) nor where the backend cannot peek
   * (Windows): those are read through a net.Socket.
   */
  readonly #peeks: boolean;
  /** Groups last told that connections wait for them (demand > 0). */
  readonly #demanded = new Set<WorkerSet>();
  #accepting = false;
  /** The acceptor's current limit per loop turn. */
  #acceptBatch = 0;
  #closed = false;
  /** Set when close() stopped waiting: connections that would wait from now on are closed at once. */
  #abandoned: PortunusError | undefined;
  #idleWaiters: Array<() => void> = [];
  readonly #counters = {
    accepted: 0,
    handedOff: 0,
    inFlight: 0,
    redispatched: 0,
    refused: 0,
    dropped: 0,
    acceptErrors: 0,
    ackTimeouts: 0,
    proxyProtocolErrors: 0,
  };

  /**
   * @internal Use `acceptAndDispatch()`. `fd` is the listening socket it owns; a ListenerServer passes none
   * and lends it sockets with serveListener(). `socketFile`: the socket file close() unlinks.
   */
  constructor(
    fd: number | undefined,
    address: net.AddressInfo | string,
    options: ResolvedDispatchOptions,
    socketFile?: ServiceSocketFile,
  ) {
    super();
    this.#fd = fd;
    this.#address = address;
    this.#connectionKind = typeof address === 'string' ? 'unix' : 'tcp';
    this.#peeks = this.#connectionKind === 'tcp' && fdBackend.peeking !== undefined;
    this.#socketFile = socketFile;
    this.#options = options;
    this.#groups = options.groups;
    this.#defaultGroup = this.#groups.values().next().value!;
    for (const group of this.#groups.values()) {
      this.#strategies.set(group, resolveStrategy(options.strategy));
      group.on('capacity', () => this.#pump());
    }
    // A quarter of the shorter deadline: a deadline is enforced between 1× and 1.5× its length, for one cheap
    // timer and no clock read per connection.
    this.#sweepMs = Math.max(10, Math.floor(Math.min(options.ackTimeoutMs, options.queueTimeoutMs) / 4));
    this.#deadlines = setInterval(() => this.#enforceDeadlines(), this.#sweepMs);
    this.#deadlines.unref();
    if (fd !== undefined) this.serveListener(fd);
  }

  /**
   * @internal Accepts from the listening socket `fd` too, as from its own, until stopServing(fd) or close().
   * The socket stays its lender's (the dispatcher never closes it). Idempotent.
   */
  serveListener(fd: number): void {
    if (this.#closed || this.#acceptors.has(fd)) return;
    this.#acceptors.set(
      fd,
      fdBackend.createAcceptor(fd, (fds, status) => this.#onAccept(fd, fds, status)),
    );
    // A running dispatcher starts the new acceptor with the others' batch limit; a paused one leaves it
    // stopped until the queue has room.
    if (this.#accepting) this.#acceptors.get(fd)!.start(this.#acceptBatch);
    else this.#resumeAccepting();
  }

  /**
   * @internal Stops accepting from a socket lent with serveListener(); connections already accepted from it
   * still go to workers. Idempotent.
   */
  stopServing(fd: number): void {
    const acceptor = this.#acceptors.get(fd);
    if (acceptor === undefined || fd === this.#fd) return;
    this.#acceptors.delete(fd);
    acceptor.close();
  }

  /** @internal The listening sockets it accepts from now. */
  get servedListeners(): number[] {
    return [...this.#acceptors.keys()];
  }

  /**
   * The address the dispatcher accepts on: host, port and family for TCP; for a Unix listener its path (or
   * abstract name), as `net.Server.address()` gives it.
   */
  address(): net.AddressInfo | string {
    return typeof this.#address === 'string' ? this.#address : { ...this.#address };
  }

  /**
   * @internal Its listener lives on in a successor (takeover), which serves the socket file's name now:
   * close() leaves the file in place.
   */
  keepSocketFile(): void {
    this.#socketFile?.keep();
  }

  /**
   * @internal The listening descriptor, still the dispatcher's (a takeover sends a copy of it to the
   * successor); undefined once `close()` released it.
   */
  listeningFd(): number | undefined {
    return this.#closed ? undefined : this.#fd;
  }

  /** Counters and per-worker state, as a snapshot. */
  stats(): DispatchStats {
    const workers = [...this.#groups.values()].flatMap((group) =>
      group.available().map((w) => ({ id: w.id, load: w.load, inFlight: w.inFlight })),
    );
    return { ...this.#counters, pending: this.#pending.length, workers };
  }

  /**
   * Stops accepting and closes the listening socket; connections already accepted still go to workers.
   * Resolves once none is pending or in flight, or, with `timeoutMs`, once that time has passed and the
   * connections still waiting for a worker were closed (handoffs already sent stay with their workers'
   * channels, which settle them). Connections waiting for a closed pool are closed at once. Idempotent.
   * The worker sets are not closed.
   */
  close(options: DispatcherCloseOptions = {}): Promise<void> {
    const timeoutMs = options?.timeoutMs;
    if (timeoutMs !== undefined) validateTimeout(timeoutMs, 'options.timeoutMs', 0);
    return this.#close(timeoutMs);
  }

  async #close(timeoutMs: number | undefined): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const acceptor of this.#acceptors.values()) acceptor.close();
      this.#acceptors.clear();
      if (this.#fd !== undefined) fdBackend.close(this.#fd);
      await this.#socketFile?.remove();
    }
    if (this.#held() === 0 && this.#counters.inFlight === 0) {
      clearInterval(this.#deadlines);
      return;
    }
    const idle = new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    if (timeoutMs === undefined) return idle;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      idle.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.#abandoned ??= new PortunusError(
        'ERR_PORTUNUS_CLOSE_TIMEOUT',
        `no worker took this connection within the ${timeoutMs} ms dispatcher.close() allowed`,
      );
      // A connection still being read for route() ends its read with this error and is dropped.
      for (const connection of this.#routing) connection.destroy(this.#abandoned);
      this.#pump();
    }
  }

  #onAccept(listener: number, fds: Int32Array | undefined, status: number): void {
    if (fds !== undefined) {
      this.#counters.accepted += fds.length;
      // One clock read per batch, not per connection: the batch came out of one accept loop.
      const acceptedAt = performance.now();
      for (const fd of fds) {
        if (this.#options.route !== undefined || this.#options.acceptProxyProtocol)
          this.#previewAndRoute(fd, acceptedAt);
        else
          this.#enqueue({
            fd,
            socket: undefined,
            preRead: undefined,
            group: this.#defaultGroup,
            worker: undefined,
            remoteAddress: undefined,
            proxy: undefined,
            attempts: 0,
            since: 0,
            acceptedAt,
          });
      }
      this.#pump();
    }
    if (status < 0) {
      // Every acceptor pauses: out of descriptors (EMFILE) is the process's state, not one socket's.
      this.#pauseAccepting();
      this.#counters.acceptErrors++;
      this.emit('error', systemError(status, 'accept', getSystemErrorName(status), listener));
      setTimeout(() => this.#resumeAccepting(), ACCEPT_RETRY_MS).unref();
    }
  }

  #enqueue(connection: PendingConnection): void {
    connection.since = this.#clock;
    if (connection.remoteAddress === undefined && this.#strategies.get(connection.group)!.needsAddress) {
      try {
        connection.remoteAddress = fdBackend.describeSocket(connection.fd).remoteAddress;
      } catch {
        // A connection reset while queued still gets dispatched; the worker will see the reset.
      }
    }
    this.#pending.push(connection);
  }

  /** Looks at the connection's first bytes, asks route(), and queues the connection for the chosen target. */
  #previewAndRoute(fd: number, acceptedAt: number): void {
    if (!this.#peeks) {
      this.#readAndRoute(fd, acceptedAt);
      return;
    }
    if (this.#abandoned !== undefined) {
      fdBackend.close(fd);
      this.#drop(this.#abandoned);
      return;
    }
    const { route, preview, acceptProxyProtocol } = this.#options;
    const connection = new PeekingConnection(
      fd,
      {
        proxyHeader: acceptProxyProtocol,
        preview: route === undefined ? undefined : preview,
        proxyTimeoutMs: preview.timeoutMs,
      },
      (error, peeked) => {
        if (error !== undefined) this.#peekFailed(connection, error);
        else this.#peeked(connection, peeked!, acceptedAt);
      },
    );
    this.#routing.add(connection);
    connection.start();
  }

  /** The preview is there: asks route() (without a promise when it answers at once) and queues the connection. */
  #peeked(connection: PeekingConnection, peeked: Peeked, acceptedAt: number): void {
    const { preview, proxy } = peeked;
    if (proxy?.sourceAddress !== undefined) {
      preview.remoteAddress = proxy.sourceAddress;
      preview.remotePort = proxy.sourcePort;
    }
    if (proxy !== undefined) preview.proxy = proxy;
    const route = this.#options.route;
    let target: RouteTarget | Promise<RouteTarget>;
    try {
      target = route === undefined ? undefined : route(preview);
    } catch (error) {
      this.#peekFailed(connection, error as Error);
      return;
    }
    if (isPromise(target))
      target.then(
        (decided) => this.#peekRouted(connection, peeked, decided, acceptedAt),
        (error: Error) => this.#peekFailed(connection, error),
      );
    else this.#peekRouted(connection, peeked, target, acceptedAt);
  }

  #peekRouted(connection: PeekingConnection, peeked: Peeked, target: RouteTarget, acceptedAt: number): void {
    // close() gave up on it while route() was deciding.
    if (connection.abandonedWith !== undefined) {
      this.#peekFailed(connection, connection.abandonedWith);
      return;
    }
    const { fd } = connection;
    if (isAnswer(target)) {
      // Only an answer needs a Node object here: #answer writes it and reads what the client still sends.
      this.#routing.delete(connection);
      let socket: net.Socket;
      try {
        socket = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
        socket.on('error', () => {});
      } catch {
        fdBackend.close(fd);
        this.#drop(target.error);
        this.#pump();
        return;
      }
      this.#routing.add(socket);
      this.#answer(socket, target);
      return;
    }
    let resolved: ResolvedTarget;
    try {
      resolved = this.#resolveTarget(target);
    } catch (error) {
      this.#peekFailed(connection, error as Error);
      return;
    }
    this.#routing.delete(connection);
    // Peeked, not read: the worker reads the bytes from the socket itself.
    this.#queueRouted(fd, undefined, undefined, resolved, peeked.preview, peeked.proxy, peeked, acceptedAt);
  }

  /**
   * Queues a routed connection for its target. A PROXY header the target asked for goes in front of the bytes
   * already read from the socket (`read`); its destination is the incoming header's, or else `local`'s
   * address (read only then: a net.Socket's localAddress is a system call).
   */
  #queueRouted(
    fd: number,
    socket: net.Socket | undefined,
    read: Buffer | undefined,
    resolved: ResolvedTarget,
    preview: RoutePreview,
    proxy: ProxyHeader | undefined,
    local: { readonly localAddress?: string; readonly localPort?: number },
    acceptedAt: number,
  ): void {
    let preRead = read;
    if (resolved.sendProxyProtocol !== undefined) {
      const header = encodeProxyHeader(resolved.sendProxyProtocol, {
        sourceAddress: preview.remoteAddress,
        sourcePort: preview.remotePort,
        destinationAddress: proxy?.destinationAddress ?? local.localAddress,
        destinationPort: proxy?.destinationPort ?? local.localPort,
      });
      preRead = read === undefined ? header : Buffer.concat([header, read]);
    }
    this.#enqueue({
      fd,
      socket,
      preRead,
      group: resolved.group,
      worker: resolved.worker,
      remoteAddress: preview.remoteAddress,
      proxy,
      attempts: 0,
      since: 0,
      acceptedAt,
    });
    this.#pump();
  }

  /** Closes a connection that could not be looked at or routed, and counts it. */
  #peekFailed(connection: PeekingConnection, error: Error): void {
    this.#routing.delete(connection);
    closeDrained(connection.fd);
    if ((error as PortunusError).code === 'ERR_PORTUNUS_PROXY_PROTOCOL') this.#counters.proxyProtocolErrors++;
    this.#drop(error);
    // Room for one more: accepting may resume.
    this.#pump();
  }

  /**
   * Reads a preview through a net.Socket (Unix connections, and backends that cannot peek), asks route(), and
   * queues the connection for the chosen target.
   */
  #readAndRoute(fd: number, acceptedAt: number): void {
    let socket: net.Socket;
    try {
      // allowHalfOpen: a client that half-closes must not make this process send a FIN on the worker's behalf.
      socket = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
      // The master only carries the socket; errors (a reset while routing) surface as a dropped connection.
      socket.on('error', () => {});
    } catch (error) {
      fdBackend.close(fd);
      this.#drop(error as Error);
      return;
    }
    if (this.#abandoned !== undefined) {
      socket.destroy();
      this.#drop(this.#abandoned);
      return;
    }
    this.#routing.add(socket);
    this.#readProxyHeader(socket)
      .then(async ({ proxy, rest }) => {
        const route = this.#options.route;
        const preview =
          route === undefined
            ? {
                bytes: rest,
                remoteAddress: socket.remoteAddress,
                remotePort: socket.remotePort,
                timedOut: false,
                ended: false,
              }
            : await readPreview(socket, this.#options.preview, rest);
        if (proxy?.sourceAddress !== undefined) {
          preview.remoteAddress = proxy.sourceAddress;
          preview.remotePort = proxy.sourcePort;
        }
        if (proxy !== undefined) (preview as RoutePreview).proxy = proxy;
        const target = route === undefined ? undefined : await route(preview);
        return { preview, proxy, target };
      })
      .then(({ preview, proxy, target }) => {
        if (isAnswer(target)) {
          this.#answer(socket, target);
          return;
        }
        const resolved = this.#resolveTarget(target);
        this.#routing.delete(socket);
        const read = preview.bytes.length > 0 ? preview.bytes : undefined;
        this.#queueRouted(fd, socket, read, resolved, preview, proxy, socket, acceptedAt);
      })
      .catch((error: Error) => {
        this.#routing.delete(socket);
        socket.destroy();
        if ((error as PortunusError).code === 'ERR_PORTUNUS_PROXY_PROTOCOL') this.#counters.proxyProtocolErrors++;
        this.#drop(error);
        this.#checkIdle();
      });
  }

  /**
   * With `acceptProxyProtocol`, reads the PROXY header (bounded in size and time) and returns it with the
   * bytes that followed it; without, reads nothing.
   */
  async #readProxyHeader(socket: net.Socket): Promise<{ proxy: ProxyHeader | undefined; rest: Buffer }> {
    if (!this.#options.acceptProxyProtocol) return { proxy: undefined, rest: Buffer.alloc(0) };
    return readProxyHeader(socket, this.#options.preview.timeoutMs);
  }

  #resolveTarget(target: Exclude<RouteTarget, RouteAnswer>): ResolvedTarget {
    if (target === undefined) return { group: this.#defaultGroup, worker: undefined, sendProxyProtocol: undefined };
    const decision = typeof target === 'string' ? { group: target } : 'channel' in target ? undefined : target;
    if (decision === undefined)
      return { group: this.#defaultGroup, worker: target as DispatchWorker, sendProxyProtocol: undefined };
    const group = decision.group === undefined ? this.#defaultGroup : this.#groups.get(decision.group);
    if (group === undefined)
      throw new PortunusError(
        'ERR_PORTUNUS_UNKNOWN_GROUP',
        `route() chose an unknown group ${JSON.stringify(decision.group)}`,
        { group: decision.group },
      );
    return { group, worker: undefined, sendProxyProtocol: decision.sendProxyProtocol };
  }

  /**
   * Writes route()'s answer and closes the sending side, then waits (reading and discarding) for the client to
   * close its side, at most ANSWER_LINGER_MS: closing with unread bytes would reset the connection, and the
   * client could lose the answer. The connection counts as held until then.
   */
  #answer(socket: net.Socket, answer: RouteAnswer): void {
    // A timer of its own, not socket.setTimeout(): a client trickling bytes must not keep the connection open.
    const linger = setTimeout(() => done(), ANSWER_LINGER_MS);
    const done = () => {
      clearTimeout(linger);
      socket.destroy();
      if (this.#routing.delete(socket)) {
        this.#drop(answer.error);
        this.#pump();
      }
    };
    socket.on('data', () => {});
    socket.once('end', done);
    socket.once('close', done);
    socket.resume();
    socket.end(answer.answer);
  }

  /** Sends waiting connections to workers with room; stops accepting when too many wait. */
  #pump(): void {
    this.#closeUnservable();
    let index = 0;
    // Made only when some group has no room: a pump runs on every accept batch and every ACK.
    let blocked: Set<WorkerSet> | undefined;
    while (index < this.#pending.length) {
      const connection = this.#pending[index]!;
      if (blocked?.has(connection.group) === true) {
        index++;
        continue;
      }
      const worker = this.#choose(connection);
      if (worker === undefined) {
        (blocked ??= new Set()).add(connection.group);
        index++;
        continue;
      }
      this.#pending.splice(index, 1);
      this.#send(worker, connection);
    }
    for (const group of blocked ?? []) {
      let waiting = 0;
      for (const connection of this.#pending) if (connection.group === group) waiting++;
      this.#demanded.add(group);
      group.demand(waiting);
    }
    // A group whose waiting connections all went out is told so once: a pool left believing connections
    // still wait would keep spawning workers for them (and, at min 0, respawn each one that retires).
    for (const group of this.#demanded) {
      if (blocked?.has(group) === true) continue;
      this.#demanded.delete(group);
      group.demand(0);
    }
    if (this.#held() >= this.#options.maxPending) this.#pauseAccepting();
    else this.#resumeAccepting();
    this.#checkIdle();
  }

  /** Closes the waiting connections no worker will ever take: close() gave up, or their set is closed. */
  #closeUnservable(): void {
    // Runs on every pump (each accept, each ACK): nothing to look at in the common case.
    if (this.#pending.length === 0 || (this.#abandoned === undefined && !this.#anyGroupClosed())) return;
    for (let index = 0; index < this.#pending.length;) {
      const connection = this.#pending[index]!;
      const error =
        this.#abandoned ??
        (connection.group.isClosed === true
          ? new PortunusError('ERR_PORTUNUS_POOL_CLOSED', 'the worker pool closed before a worker took this connection')
          : undefined);
      if (error === undefined) {
        index++;
        continue;
      }
      this.#pending.splice(index, 1);
      this.#closeConnection(connection);
      this.#drop(error);
    }
  }

  #anyGroupClosed(): boolean {
    for (const group of this.#groups.values()) if (group.isClosed === true) return true;
    return false;
  }

  #choose(connection: PendingConnection): DispatchWorker | undefined {
    const group = connection.group;
    const max = group.maxInFlight;
    const available = group.available();
    // Filtered (a new array) only when some worker has no room or is unhealthy, not for every connection.
    let open = available;
    for (const worker of available) {
      if (worker.inFlight < max && !this.#unhealthy.has(worker)) continue;
      open = available.filter((candidate) => candidate.inFlight < max && !this.#unhealthy.has(candidate));
      break;
    }
    if (connection.worker !== undefined) return open.includes(connection.worker) ? connection.worker : undefined;
    return this.#strategies.get(group)!.pick(open, { remoteAddress: connection.remoteAddress });
  }

  #send(worker: DispatchWorker, connection: PendingConnection): void {
    worker.inFlight++;
    this.#counters.inFlight++;
    connection.attempts++;
    connection.worker = worker;
    connection.since = this.#clock;
    this.#sent.add(connection);
    const handoff: Promise<Handoff> =
      connection.socket === undefined
        ? distributeAcceptedFd(
            worker.channel,
            connection.fd,
            this.#connectionKind,
            // A routed connection may carry a PROXY header for the service, and the one it came with.
            connection.preRead === undefined && connection.proxy === undefined
              ? undefined
              : {
                  preRead: connection.preRead,
                  metadata: connection.proxy === undefined ? undefined : { proxy: connection.proxy },
                },
          )
        : distributeTransport(worker.channel, connection.socket, {
            preRead: connection.preRead,
            metadata: connection.proxy === undefined ? undefined : { proxy: connection.proxy },
          });
    handoff.then(
      (result) => {
        this.#sent.delete(connection);
        worker.inFlight--;
        worker.handedOff++;
        this.#counters.inFlight--;
        this.#counters.handedOff++;
        if (this.listenerCount('handoff') > 0)
          this.emit('handoff', { worker, id: result.id, latencyMs: performance.now() - connection.acceptedAt });
        this.#pump();
      },
      (error: Error) => {
        this.#sent.delete(connection);
        worker.inFlight--;
        this.#counters.inFlight--;
        // A worker that went away says nothing about the connection: only refusals count as attempts.
        if ((error as PortunusError).code === 'ERR_PORTUNUS_CHANNEL_CLOSED') connection.attempts--;
        else this.#counters.refused++;
        if (connection.attempts >= this.#options.maxAttempts) {
          this.#closeConnection(connection);
          this.#drop(error);
        } else {
          // The descriptor is still ours: the connection waits, intact, for the next worker.
          this.#counters.redispatched++;
          connection.worker = undefined;
          this.#pending.unshift(connection);
          this.emit('redispatch', { worker, error, attempts: connection.attempts });
        }
        this.#pump();
      },
    );
  }

  #closeConnection(connection: PendingConnection): void {
    if (connection.socket !== undefined) connection.socket.destroy();
    else fdBackend.close(connection.fd);
  }

  #drop(error: Error): void {
    this.#counters.dropped++;
    this.emit('drop', { error });
  }

  #pauseAccepting(): void {
    if (!this.#accepting) return;
    this.#accepting = false;
    for (const acceptor of this.#acceptors.values()) acceptor.stop();
  }

  /**
   * Accepts again, at most as many connections per loop turn as the queue has room for: one burst (the
   * acceptor takes up to 128 by default) must not overfill `maxPending`.
   */
  #resumeAccepting(): void {
    const room = this.#options.maxPending - this.#held();
    if (this.#closed || room <= 0 || (this.#accepting && room === this.#acceptBatch)) return;
    // On a running acceptor, start() only updates the batch limit. Each acceptor may take `room` per turn:
    // with several sockets lent, one turn can overfill maxPending by that much, and then accepting pauses.
    for (const acceptor of this.#acceptors.values()) acceptor.start(room);
    this.#acceptBatch = room;
    this.#accepting = true;
  }

  /** Accepted connections this process holds that no worker has: queued, or being read for route(). */
  #held(): number {
    return this.#pending.length + this.#routing.size;
  }

  #checkIdle(): void {
    if (this.#held() > 0 || this.#counters.inFlight > 0) return;
    if (this.#closed) clearInterval(this.#deadlines);
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  /**
   * Closes connections that waited too long for a worker, and gives up on workers that hold a handoff past
   * `ackTimeoutMs`. Such a worker still has its copy of every descriptor it was sent, and no message can take
   * one back: sending the connection to another worker while it lives could let two processes read one
   * stream. So its set is asked to end it, and its handoffs come back (and go elsewhere) when its channel
   * closes, as with any worker that dies.
   */
  #enforceDeadlines(): void {
    const now = Date.now();
    this.#clock = now;
    // Stamps lag the real time by up to one period: wait that much longer, so that no deadline comes early.
    const { ackTimeoutMs, queueTimeoutMs } = this.#options;
    const ackLimit = ackTimeoutMs + this.#sweepMs;
    const queueLimit = queueTimeoutMs + this.#sweepMs;
    for (const connection of this.#sent) {
      // Oldest first: the first one within its deadline ends the scan.
      if (now - connection.since < ackLimit) break;
      const worker = connection.worker!;
      if (this.#unhealthy.has(worker)) continue;
      this.#unhealthy.add(worker);
      this.#counters.ackTimeouts++;
      const error = new PortunusError(
        'ERR_PORTUNUS_ACK_TIMEOUT',
        `worker ${worker.id} did not acknowledge a handoff within ${ackTimeoutMs} ms: it is not adopting connections`,
        { workerId: worker.id },
      );
      this.emit('unhealthy', { worker, error });
      connection.group.reportUnhealthy?.(worker, error);
    }
    let expired = false;
    for (let index = 0; index < this.#pending.length;) {
      const connection = this.#pending[index]!;
      if (now - connection.since < queueLimit) {
        index++;
        continue;
      }
      this.#pending.splice(index, 1);
      this.#closeConnection(connection);
      this.#drop(
        new PortunusError('ERR_PORTUNUS_QUEUE_TIMEOUT', `no worker took this connection within ${queueTimeoutMs} ms`),
      );
      expired = true;
    }
    if (expired) this.#pump();
  }
}

/**
 * Accepts connections on `options.listen` and hands each to a worker of `options.pool`. Options are checked
 * synchronously (invalid ones throw); then the listening socket is opened, the pool(s) started, and the
 * promise resolves once both are done. It rejects when the port cannot be had or when no worker of a pool's
 * first generation can start (with the reason: exit code, signal, the end of its stderr); the pools it
 * started are then closed again. The dispatcher owns its listening socket; `close()` releases it.
 */
export function acceptAndDispatch(options: AcceptAndDispatchOptions): Promise<Dispatcher> {
  const resolved = resolveDispatchOptions(options);
  return start(resolved);
}

async function start(options: ResolvedDispatchOptions): Promise<Dispatcher> {
  const { fd, address, socketFile } = await listenThenStart(options.listen, [...options.groups.values()]);
  return new Dispatcher(fd, address, options, socketFile);
}

function isPromise(value: RouteTarget | Promise<RouteTarget>): value is Promise<RouteTarget> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

function isAnswer(target: RouteTarget): target is RouteAnswer {
  return typeof target === 'object' && target !== null && 'answer' in target;
}
