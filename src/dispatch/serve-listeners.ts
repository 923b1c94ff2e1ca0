/**
 * serveListeners(): the master hands its listening socket to the workers and steps out of the data path.
 * In `shared` mode every worker of the pool gets the one listening socket and accepts from it itself, as
 * Node's cluster does with SCHED_NONE, but the socket stays the master's: it outlives every worker, so
 * connections the kernel queued while a worker died, restarted or had not adopted it yet wait for the next
 * one instead of being reset. Workers run the same `adoptConnections(server)` as under the dispatcher.
 * @module
 */
import type net from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { fdBackend } from '../binding/index.js';
import { validateListenFdName } from '../bootstrap/index.js';
import { invalidArgument } from '../errors.js';
import { distributeListenerFd } from '../transport/index.js';
import { validateObject, validateOneOf } from '../validate.js';
import { listenThenStart, validateListenOption } from './listen-socket.js';
import { isWorkerSet, type DispatchWorker, type WorkerSet } from './worker-set.js';

/**
 * How the master shares its listener: 'shared' hands it to Node workers over their channels, 'inherit'
 * starts workers in any language with it the systemd way (LISTEN_FDS).
 */
export type ListenerMode = 'shared' | 'inherit';

/** Options of `serveListeners()`. */
export interface ServeListenersOptions {
  /** TCP listen options (port 0 for any), or a listening TCP net.Server to take over. */
  listen: net.ListenOptions | net.Server;
  /**
   * The workers: in 'shared' mode Node workers that call `adoptConnections(server)`; in 'inherit' mode a
   * WorkerPool whose `command` takes its listener by LISTEN_FDS (any language). Its `min` must be at least 1:
   * someone must accept.
   */
  pool: WorkerSet;
  /**
   * 'shared': every worker accepts from the one listening socket, handed over its channel. 'inherit': every
   * worker is started with the listening socket at descriptor 3 (LISTEN_FDS=1, LISTEN_FDNAMES=`name`,
   * LISTEN_PID its own pid), as systemd starts a socket-activated service; see docs/bootstrap.md. Default
   * 'shared'.
   */
  mode?: ListenerMode;
  /** 'inherit' mode: the listener's name in LISTEN_FDNAMES. Default 'unknown'. */
  name?: string;
}

/** A snapshot of a ListenerServer, from `stats()`. */
export interface ListenerStats {
  /** The mode it runs in. */
  mode: ListenerMode;
  /** Workers that adopted the listener and accept from it now. */
  workers: number;
  /** Times the listener was handed to a worker (each new worker, each replacement). */
  shared: number;
  /** Handoffs of the listener that failed (the worker went away first). */
  failed: number;
}

/** Events of a {@link ListenerServer}. */
export interface ListenerServerEvents {
  /** A worker adopted the listener and accepts from it. */
  share: [worker: DispatchWorker];
  /** Handing the listener to a worker failed (it went away first; its replacement gets it). */
  error: [error: Error];
}

/** Shares one listening socket with the workers of a pool; see `serveListeners()`. */
export class ListenerServer extends EventEmitter<ListenerServerEvents> {
  readonly #fd: number;
  readonly #address: net.AddressInfo;
  readonly #pool: WorkerSet;
  readonly #mode: ListenerMode;
  /** Workers the listener was sent to (acknowledged or not yet): each gets it once. */
  readonly #holders = new Set<DispatchWorker>();
  readonly #counters = { shared: 0, failed: 0 };
  readonly #onCapacity = () => this.#share();
  #closed = false;

  /** @internal Use `serveListeners()`. */
  constructor(fd: number, address: net.AddressInfo, pool: WorkerSet, mode: ListenerMode) {
    super();
    this.#fd = fd;
    this.#address = address;
    this.#pool = pool;
    this.#mode = mode;
    // In inherit mode the pool passes the socket to each worker it starts: nothing to hand over here.
    if (mode === 'inherit') return;
    pool.on('capacity', this.#onCapacity);
    this.#share();
  }

  /** The address the listener is bound to. */
  address(): net.AddressInfo {
    return { ...this.#address };
  }

  /** Counters, as a snapshot (in inherit mode the counts stay 0: the pool passes the socket at spawn). */
  stats(): ListenerStats {
    this.#forgetGone();
    return { mode: this.#mode, workers: this.#holders.size, ...this.#counters };
  }

  /**
   * Stops handing the listener to new workers and closes the master's copy. Workers that have it go on
   * accepting until their pool drains them (`pool.close()`, or a restart); close this first, then the pool.
   * When the last copy closes, connections still in the kernel's queue are reset. Idempotent.
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#pool.off?.('capacity', this.#onCapacity);
      fdBackend.close(this.#fd);
    }
    return Promise.resolve();
  }

  /** Hands the listener to every worker that takes connections and does not have it yet. */
  #share(): void {
    if (this.#closed) return;
    this.#forgetGone();
    for (const worker of this.#pool.available()) {
      if (this.#holders.has(worker)) continue;
      this.#holders.add(worker);
      distributeListenerFd(worker.channel, this.#fd).then(
        () => {
          this.#counters.shared++;
          this.emit('share', worker);
        },
        (error: Error) => {
          this.#holders.delete(worker);
          this.#counters.failed++;
          this.emit('error', error);
        },
      );
    }
  }

  /** Workers whose channel closed hold nothing any more. */
  #forgetGone(): void {
    for (const worker of this.#holders) if (worker.channel.isClosed) this.#holders.delete(worker);
  }
}

/**
 * Opens (or takes over) a TCP listening socket, starts the pool, and hands the socket to every worker,
 * which accepts from it itself: over its channel (`mode: 'shared'`), or at descriptor 3 when the worker is
 * started (`mode: 'inherit'`, workers in any language, LISTEN_FDS). Options are checked synchronously. Resolves once the pool
 * started; rejects as `acceptAndDispatch()` does when the port cannot be had or no first worker starts. The
 * master owns the listening socket until `close()`; each worker owns its copy (closed when it drains).
 */
export function serveListeners(options: ServeListenersOptions): Promise<ListenerServer> {
  validateObject(options, 'options');
  validateListenOption(options.listen);
  const pool = options.pool;
  if (!isWorkerSet(pool)) throw invalidArgument('options.pool', 'a WorkerPool', pool);
  if (pool.min !== undefined && pool.min < 1) {
    throw invalidArgument('options.pool', 'a pool with min >= 1 (with no worker, nobody accepts)', pool.min, 'value');
  }
  const mode = options.mode ?? 'shared';
  validateOneOf(mode, 'options.mode', ['shared', 'inherit']);
  if (mode === 'inherit' && typeof pool.inheritListeners !== 'function')
    throw invalidArgument('options.pool', "a WorkerPool (mode 'inherit' needs inheritListeners())", pool);
  if (options.name !== undefined && mode !== 'inherit')
    throw invalidArgument('options.name', "undefined outside mode 'inherit'", options.name, 'value');
  if (options.name !== undefined) validateListenFdName(options.name, 'options.name');
  return start(options.listen, pool, mode, options.name);
}

async function start(
  listen: net.ListenOptions | net.Server,
  pool: WorkerSet,
  mode: ListenerMode,
  name: string | undefined,
): Promise<ListenerServer> {
  // In inherit mode the pool must know the socket before it starts its first worker.
  const beforeStart =
    mode === 'inherit'
      ? (fd: number) => pool.inheritListeners!([{ fd, ...(name === undefined ? {} : { name }) }])
      : undefined;
  const { fd, address } = await listenThenStart(listen, [pool], beforeStart);
  return new ListenerServer(fd, address, pool, mode);
}
