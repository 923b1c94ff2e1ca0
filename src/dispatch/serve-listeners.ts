/**
 * serveListeners(): the master hands listening sockets to the workers and steps out of the data path.
 * In `shared` mode every worker of the pool gets the one listening socket and accepts from it itself, as
 * Node's cluster does with SCHED_NONE. In `reuseport` mode the master opens a SO_REUSEPORT group with one
 * member per worker slot and hands each worker its own member, so the kernel spreads connections evenly and
 * each worker has a queue of its own. Either way the sockets stay the master's: they outlive every worker,
 * so connections the kernel queued while a worker died, restarted or had not adopted them yet are not reset
 * (in reuseport mode the master accepts them itself and dispatches them). Workers run the same
 * `adoptConnections(server)` as under the dispatcher.
 * @module
 */
import net from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { fdBackend } from '../binding/index.js';
import { PortunusError, invalidArgument } from '../errors.js';
import { validateObject, validateOneOf, validateTimeout } from '../validate.js';
import { Dispatcher } from './accept-and-dispatch.js';
import { resolveDispatchOptions } from './dispatch-options.js';
import { listenThenStart, validateListenOption } from './listen-socket.js';
import { openReusePortGroup } from './reuseport-group.js';
import { ReusePortMembers } from './reuseport-members.js';
import { SharedListener } from './shared-listener.js';
import { isWorkerSet, type DispatchWorker, type WorkerSet } from './worker-set.js';

/** How the master shares its listeners: one socket for all workers, or one SO_REUSEPORT member each. */
export type ListenerMode = 'shared' | 'reuseport';

/** Options of `serveListeners()`. */
export interface ServeListenersOptions {
  /**
   * TCP listen options (port 0 for any), or, in `shared` mode only, a listening TCP net.Server to take over.
   */
  listen: net.ListenOptions | net.Server;
  /**
   * The workers; they call `adoptConnections(server)`. Its `min` must be at least 1: someone must accept.
   * In `reuseport` mode it needs a `max` (a WorkerPool has one): one listener is opened per worker slot.
   */
  pool: WorkerSet;
  /**
   * 'shared': every worker accepts from the one listening socket. 'reuseport': each worker accepts from a
   * SO_REUSEPORT listener of its own (Linux, FreeBSD). Default 'shared'.
   */
  mode?: ListenerMode;
  /**
   * What 'reuseport' does where the platform has no balanced SO_REUSEPORT: 'shared' runs in shared mode
   * instead (`stats().mode` says which runs); without it, serveListeners() throws ERR_PORTUNUS_UNSUPPORTED.
   */
  fallback?: 'shared';
}

/** Options of `ListenerServer.close()`. */
export interface ListenerServerCloseOptions {
  /**
   * In `reuseport` mode, how long connections the master accepted itself may still wait for a worker, in
   * ms (as for `Dispatcher.close()`). Default: no limit.
   */
  timeoutMs?: number;
}

/** A snapshot of a ListenerServer, from `stats()`. */
export interface ListenerStats {
  /** The mode it runs in. */
  mode: ListenerMode;
  /** Workers that adopted a listener and accept from it now. */
  workers: number;
  /** Times a listener was handed to a worker (each new worker, each replacement). */
  shared: number;
  /** Handoffs of a listener that failed (the worker went away first). */
  failed: number;
  /** Listening sockets the master owns: 1 in shared mode, one per worker slot in reuseport mode. */
  listeners: number;
  /** Reuseport members the master accepts from itself now (no worker has adopted them); 0 in shared mode. */
  masterServed: number;
  /** Connections the master accepted itself from unadopted members and dispatched; 0 in shared mode. */
  accepted: number;
  /** Of those, connections closed without reaching a worker (see the dispatcher's `dropped`). */
  dropped: number;
}

/** Events of a {@link ListenerServer}. */
export interface ListenerServerEvents {
  /** A worker adopted a listener and accepts from it. */
  share: [worker: DispatchWorker];
  /**
   * Handing a listener to a worker failed (it went away first; its replacement gets it), the master's
   * accept failed (EMFILE…; it resumes shortly) or steering the reuseport group failed.
   */
  error: [error: Error];
}

/** Serves a pool through listeners handed to its workers; see `serveListeners()`. */
export class ListenerServer extends EventEmitter<ListenerServerEvents> {
  readonly #address: net.AddressInfo;
  readonly #pool: WorkerSet;
  readonly #mode: ListenerMode;
  readonly #sharing: SharedListener | ReusePortMembers;
  readonly #dispatcher: Dispatcher | undefined;
  readonly #onCapacity = () => this.#sharing.assign();
  #closing: Promise<void> | undefined;

  /**
   * @internal Use `serveListeners()`. Takes ownership of `fds`: the one shared socket, or the members of a
   * reuseport group in group order (then `dispatcher` serves the members no worker adopted).
   */
  constructor(
    fds: readonly number[],
    address: net.AddressInfo,
    pool: WorkerSet,
    mode: ListenerMode,
    dispatcher?: Dispatcher,
  ) {
    super();
    this.#address = address;
    this.#pool = pool;
    this.#mode = mode;
    this.#dispatcher = dispatcher;
    const events = {
      share: (worker: DispatchWorker) => this.emit('share', worker),
      error: (error: Error) => this.emit('error', error),
    };
    dispatcher?.on('error', events.error);
    this.#sharing =
      dispatcher === undefined
        ? new SharedListener(fds[0]!, pool, events)
        : new ReusePortMembers(fds, pool, dispatcher, events);
    pool.on('capacity', this.#onCapacity);
  }

  /** The address the listeners are bound to. */
  address(): net.AddressInfo {
    return { ...this.#address };
  }

  /**
   * The listening sockets the master owns, in order: the shared socket, or the reuseport group's members in
   * the kernel's group order. For a process that takes this one's place (takeover): send copies
   * (`distributeListenerFd()` keeps the sender's), never close these; they are closed by `close()`. Empty
   * once closed.
   */
  listenerFds(): number[] {
    return this.#closing === undefined ? this.#sharing.fds : [];
  }

  /** Counters, as a snapshot. */
  stats(): ListenerStats {
    const dispatched = this.#dispatcher?.stats();
    return {
      mode: this.#mode,
      workers: this.#sharing.adopted,
      ...this.#sharing.counters,
      listeners: this.#sharing.fds.length,
      masterServed: this.#dispatcher?.servedListeners.length ?? 0,
      accepted: dispatched?.accepted ?? 0,
      dropped: dispatched?.dropped ?? 0,
    };
  }

  /**
   * Stops handing listeners to new workers and closes the master's copies. Workers that have one go on
   * accepting until their pool drains them (`pool.close()`, or a restart); close this first, then the pool.
   * In reuseport mode the connections the master accepted itself still go to workers first (within
   * `timeoutMs`, if given). When the last copy of a listener closes, connections still in its queue are
   * reset, as for any server that closes. Idempotent.
   */
  close(options: ListenerServerCloseOptions = {}): Promise<void> {
    const timeoutMs = options?.timeoutMs;
    if (timeoutMs !== undefined) validateTimeout(timeoutMs, 'options.timeoutMs', 0);
    this.#closing ??= (async () => {
      this.#pool.off?.('capacity', this.#onCapacity);
      await this.#sharing.close(timeoutMs);
    })();
    return this.#closing;
  }
}

/**
 * Opens the listening socket(s), starts the pool, and hands the sockets to the workers, which accept from
 * them themselves (`mode`: 'shared' or 'reuseport'). Options are checked synchronously, and so is the
 * platform: 'reuseport' where there is no balanced SO_REUSEPORT throws ERR_PORTUNUS_UNSUPPORTED unless
 * `fallback: 'shared'` was given. Resolves once the pool started; rejects as `acceptAndDispatch()` does when
 * the port cannot be had or no first worker starts (every socket opened is closed again). The master owns
 * its listening sockets until `close()`; each worker owns its copy (closed when it drains).
 */
export function serveListeners(options: ServeListenersOptions): Promise<ListenerServer> {
  validateObject(options, 'options');
  validateListenOption(options.listen);
  const pool = options.pool;
  if (!isWorkerSet(pool)) throw invalidArgument('options.pool', 'a WorkerPool', pool);
  if (pool.min !== undefined && pool.min < 1) {
    throw invalidArgument('options.pool', 'a pool with min >= 1 (with no worker, nobody accepts)', pool.min, 'value');
  }
  const requested = options.mode ?? 'shared';
  validateOneOf(requested, 'options.mode', ['shared', 'reuseport']);
  if (options.fallback !== undefined) validateOneOf(options.fallback, 'options.fallback', ['shared']);
  const mode =
    requested === 'reuseport' && !fdBackend.reusePort && options.fallback === 'shared' ? 'shared' : requested;
  if (mode === 'shared') return startShared(options.listen, pool);
  if (!fdBackend.reusePort)
    throw new PortunusError(
      'ERR_PORTUNUS_UNSUPPORTED',
      `listener mode 'reuseport' needs SO_REUSEPORT groups that the kernel balances (Linux, FreeBSD), which ${process.platform} lacks: use mode 'shared', or fallback: 'shared'`,
      { platform: process.platform },
    );
  if (options.listen instanceof net.Server)
    throw new PortunusError(
      'ERR_PORTUNUS_UNSUPPORTED',
      "listener mode 'reuseport' opens its own SO_REUSEPORT sockets: give listen options ({ host, port }), not a net.Server",
    );
  if (typeof pool.max !== 'number' || !Number.isInteger(pool.max) || pool.max < 1)
    throw invalidArgument(
      'options.pool',
      "a pool with a max (one listener per worker slot in 'reuseport' mode)",
      pool.max,
      'value',
    );
  return startReusePort(options.listen, pool, pool.max);
}

async function startShared(listen: net.ListenOptions | net.Server, pool: WorkerSet): Promise<ListenerServer> {
  const { fd, address } = await listenThenStart(listen, [pool]);
  return new ListenerServer([fd], address, pool, 'shared');
}

/**
 * Opens the group before the pool starts, as listenThenStart() does for one socket: a port that cannot be
 * had leaves no worker behind, and connections arriving while the pool starts wait in the members' queues
 * (the master serves them all until workers adopt them).
 */
async function startReusePort(listen: net.ListenOptions, pool: WorkerSet, slots: number): Promise<ListenerServer> {
  const { fds, address } = await openReusePortGroup(listen, slots);
  try {
    await pool.start();
  } catch (error) {
    for (const fd of fds) fdBackend.close(fd);
    await pool.close?.();
    throw error;
  }
  const dispatcher = new Dispatcher(undefined, address, resolveDispatchOptions({ listen, pool }));
  return new ListenerServer(fds, address, pool, 'reuseport', dispatcher);
}
