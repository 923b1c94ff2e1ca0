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
import { validateListenFdName } from '../bootstrap/index.js';
import { PortunusError, invalidArgument } from '../errors.js';
import { validateObject, validateOneOf, validateTimeout } from '../validate.js';
import { Dispatcher } from './accept-and-dispatch.js';
import { resolveDispatchOptions } from './dispatch-options.js';
import { listenThenStart, validateListenOption } from './listen-socket.js';
import type { ServiceSocketFile } from './service-socket-file.js';
import {
  adoptReusePortGroup,
  isExistingGroup,
  openReusePortGroup,
  validateExistingGroup,
  type ExistingReusePortGroup,
} from './reuseport-group.js';
import { ReusePortMembers } from './reuseport-members.js';
import { SharedListener } from './shared-listener.js';
import { isWorkerSet, type DispatchWorker, type WorkerSet } from './worker-set.js';

/**
 * How the master shares its listeners: one socket for all workers, or one SO_REUSEPORT member each, handed
 * over their channels; or ('inherit') one socket passed to workers in any language when they start, the
 * systemd way (LISTEN_FDS).
 */
export type ListenerMode = 'shared' | 'reuseport' | 'inherit';

/** Options of `serveListeners()`. */
export interface ServeListenersOptions {
  /**
   * TCP listen options (port 0 for any), or, in `shared` and `inherit` modes only, Unix listen options
   * (`{ path }`: socket file 0600 unless `readableAll`/`writableAll`, unlinked by `close()`) or a listening
   * TCP or Unix net.Server to take over (one from `listenFds()`, say). See docs/listener-modes.md. In
   * `reuseport` mode only, `{ fds }`: the members of a SO_REUSEPORT group that exists already, in group
   * order (`TakenListeners.takeGroup()` after a takeover); they are adopted as they are, not bound anew, and
   * owned by the ListenerServer from then on.
   */
  listen: net.ListenOptions | net.Server | ExistingReusePortGroup;
  /**
   * The workers; they call `adoptConnections(server)`. Its `min` must be at least 1: someone must accept.
   * In `reuseport` mode it needs a `max` (a WorkerPool has one): one listener is opened per worker slot. In
   * `inherit` mode, a WorkerPool whose `command` takes its listener by LISTEN_FDS (any language).
   */
  pool: WorkerSet;
  /**
   * 'shared': every worker accepts from the one listening socket. 'reuseport': each worker accepts from a
   * SO_REUSEPORT listener of its own (Linux, FreeBSD). 'inherit': every worker is started with the listening
   * socket at descriptor 3 (LISTEN_FDS=1, LISTEN_FDNAMES=`name`, LISTEN_PID its own pid), as systemd starts a
   * socket-activated service; see docs/bootstrap.md. Default 'shared'.
   */
  mode?: ListenerMode;
  /** 'inherit' mode: the listener's name in LISTEN_FDNAMES. Default 'unknown'. */
  name?: string;
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
  readonly #address: net.AddressInfo | string;
  readonly #pool: WorkerSet;
  readonly #socketFile: ServiceSocketFile | undefined;
  readonly #mode: ListenerMode;
  readonly #sharing: SharedListener | ReusePortMembers;
  readonly #dispatcher: Dispatcher | undefined;
  readonly #onCapacity = () => this.#sharing.assign();
  #closing: Promise<void> | undefined;

  /**
   * @internal Use `serveListeners()`. Takes ownership of `fds`: the one shared socket, or the members of a
   * reuseport group in group order (then `dispatcher` serves the members no worker adopted). `socketFile`:
   * the socket file of a Unix listener, unlinked by close().
   */
  constructor(
    fds: readonly number[],
    address: net.AddressInfo | string,
    pool: WorkerSet,
    mode: ListenerMode,
    dispatcher?: Dispatcher,
    socketFile?: ServiceSocketFile,
  ) {
    super();
    this.#address = address;
    this.#socketFile = socketFile;
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

  /** The address the listeners are bound to: TCP host and port, or a Unix listener's path (abstract name). */
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
      try {
        await this.#sharing.close(timeoutMs);
      } finally {
        // Workers keep their copies of the socket, not its name: nobody can connect by path from here on.
        await this.#socketFile?.remove();
      }
    })();
    return this.#closing;
  }
}

/**
 * Opens the listening socket(s), starts the pool, and hands the sockets to the workers, which accept from
 * them themselves (`mode`: 'shared' or 'reuseport' over their channels; 'inherit' at descriptor 3 when each
 * worker starts, for workers in any language). Options are checked synchronously, and so is the
 * platform: 'reuseport' where there is no balanced SO_REUSEPORT throws ERR_PORTUNUS_UNSUPPORTED unless
 * `fallback: 'shared'` was given. Resolves once the pool started; rejects as `acceptAndDispatch()` does when
 * the port cannot be had or no first worker starts (every socket opened is closed again). The master owns
 * its listening sockets until `close()`; each worker owns its copy (closed when it drains).
 */
export function serveListeners(options: ServeListenersOptions): Promise<ListenerServer> {
  validateObject(options, 'options');
  const existingGroup = isExistingGroup(options.listen);
  if (existingGroup) {
    if (options.mode !== 'reuseport')
      throw invalidArgument(
        'options.listen',
        "listen options or a net.Server ({ fds } is for mode 'reuseport')",
        options.listen,
        'value',
      );
    validateExistingGroup(options.listen as ExistingReusePortGroup);
  } else validateListenOption(options.listen);
  const pool = options.pool;
  if (!isWorkerSet(pool)) throw invalidArgument('options.pool', 'a WorkerPool', pool);
  if (pool.min !== undefined && pool.min < 1) {
    throw invalidArgument('options.pool', 'a pool with min >= 1 (with no worker, nobody accepts)', pool.min, 'value');
  }
  const requested = options.mode ?? 'shared';
  validateOneOf(requested, 'options.mode', ['shared', 'reuseport', 'inherit']);
  if (options.name !== undefined && requested !== 'inherit')
    throw invalidArgument('options.name', "undefined outside mode 'inherit'", options.name, 'value');
  if (requested === 'inherit') {
    if (typeof pool.inheritListeners !== 'function')
      throw invalidArgument('options.pool', "a WorkerPool (mode 'inherit' needs inheritListeners())", pool);
    if (options.name !== undefined) validateListenFdName(options.name, 'options.name');
    return startInherited(options.listen as net.ListenOptions | net.Server, pool, options.name);
  }
  if (options.fallback !== undefined) validateOneOf(options.fallback, 'options.fallback', ['shared']);
  const mode =
    requested === 'reuseport' && !fdBackend.reusePort && options.fallback === 'shared' ? 'shared' : requested;
  if (mode === 'shared') return startShared(options.listen as net.ListenOptions | net.Server, pool);
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
  if (!existingGroup && (options.listen as net.ListenOptions).path !== undefined)
    throw new PortunusError(
      'ERR_PORTUNUS_UNSUPPORTED',
      "listener mode 'reuseport' balances TCP ports; a Unix socket path can be served in mode 'shared'",
    );
  if (typeof pool.max !== 'number' || !Number.isInteger(pool.max) || pool.max < 1)
    throw invalidArgument(
      'options.pool',
      "a pool with a max (one listener per worker slot in 'reuseport' mode)",
      pool.max,
      'value',
    );
  return startReusePort(options.listen as net.ListenOptions | ExistingReusePortGroup, pool, pool.max);
}

/**
 * Inherit mode: the pool learns the socket before its first worker starts, and passes it to each worker it
 * starts. The master keeps its copy in a SharedListener, which hands nothing over channels: an inherit pool
 * offers no worker with a channel (`available()` is empty).
 */
async function startInherited(
  listen: net.ListenOptions | net.Server,
  pool: WorkerSet,
  name: string | undefined,
): Promise<ListenerServer> {
  const { fd, address, socketFile } = await listenThenStart(listen, [pool], (listener) =>
    pool.inheritListeners!([{ fd: listener, ...(name === undefined ? {} : { name }) }]),
  );
  return new ListenerServer([fd], address, pool, 'inherit', undefined, socketFile);
}

async function startShared(listen: net.ListenOptions | net.Server, pool: WorkerSet): Promise<ListenerServer> {
  const { fd, address, socketFile } = await listenThenStart(listen, [pool]);
  return new ListenerServer([fd], address, pool, 'shared', undefined, socketFile);
}

/**
 * Opens the group before the pool starts, as listenThenStart() does for one socket: a port that cannot be
 * had leaves no worker behind, and connections arriving while the pool starts wait in the members' queues
 * (the master serves them all until workers adopt them).
 */
async function startReusePort(
  listen: net.ListenOptions | ExistingReusePortGroup,
  pool: WorkerSet,
  slots: number,
): Promise<ListenerServer> {
  const { fds, address } = isExistingGroup(listen)
    ? adoptReusePortGroup(listen)
    : await openReusePortGroup(listen, slots);
  try {
    await pool.start();
  } catch (error) {
    for (const fd of fds) fdBackend.close(fd);
    await pool.close?.();
    throw error;
  }
  const dispatcher = new Dispatcher(undefined, address, resolveDispatchOptions({ listen: { port: 0 }, pool }));
  return new ListenerServer(fds, address, pool, 'reuseport', dispatcher);
}
