/**
 * WorkerPool: child processes that serve connections handed to them by a dispatcher. It grows when
 * concurrency passes `highWater` per worker (up to `max`), retires workers idle for `idleTimeoutMs` (down to
 * `min`, which may be 0), replaces workers that crash (with exponential backoff when they crash in a loop),
 * that never become ready, or that stop answering pings, and restarts a whole generation without dropping
 * a connection: the new one is ready before the old one drains.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { DispatchWorker, WorkerSet } from '../dispatch/index.js';
import { PortunusError } from '../errors.js';
import { validateInteger } from '../validate.js';
import { resolvePoolOptions, type ResolvedPoolOptions, type WorkerPoolOptions } from './options.js';
import { PoolWorker, type WorkerExit, type WorkerState } from './pool-worker.js';
import { listeningAddressesOf, workerFailure } from './worker-failure.js';

/** Events of a {@link WorkerPool}, with their listener arguments. */
export interface PoolEvents {
  /** A worker process was started. */
  spawn: [worker: PoolWorker];
  /** A worker called adoptConnections and takes connections. */
  ready: [worker: PoolWorker];
  /** A worker process ended. */
  exit: [worker: PoolWorker, exit: WorkerExit];
  /**
   * A worker ended without being asked to: it crashed, failed to start, or was killed for not becoming ready
   * or for being unhealthy. Without a listener, the error is written to stderr as a process warning.
   */
  crash: [
    event: {
      /** The worker that ended. */
      worker: PoolWorker;
      /** ERR_PORTUNUS_WORKER_EXITED or ERR_PORTUNUS_READY_TIMEOUT, with the exit, its stderr's last lines and a hint. */
      error: PortunusError;
      /** Delay before the pool starts another worker (doubling with each crash in a row). */
      respawnInMs: number;
    },
  ];
  /** The pool grew or shrank by one worker. */
  scale: [
    event: {
      /** Whether a worker was added or retired. */
      direction: 'up' | 'down';
      /** Workers in the current generation afterwards. */
      workers: number;
      /** What caused it: 'high water', 'connections waiting', 'idle', 'spawn-workers' or 'remove-workers'. */
      reason: string;
    },
  ];
  /**
   * A worker did not answer a ping in time (ERR_PORTUNUS_PING_TIMEOUT), or a dispatcher found it does not
   * acknowledge handoffs (ERR_PORTUNUS_ACK_TIMEOUT): it is killed and replaced.
   */
  unhealthy: [worker: PoolWorker, error: Error];
  /** A restart finished: `generation` serves now. */
  restart: [
    event: {
      /** The generation now serving. */
      generation: number;
    },
  ];
  /** The set of workers taking connections changed (for dispatchers). */
  capacity: [];
}

/** A snapshot of the pool. */
export interface PoolStats {
  /** The generation taking connections (increases with every `restart()`). */
  generation: number;
  /** Worker processes started so far. */
  spawned: number;
  /** Worker processes that ended so far. */
  exited: number;
  /** Of those, the ones that ended without the pool asking them to. */
  crashed: number;
  /** Restarts completed. */
  restarts: number;
  /** Workers kept even when idle, now (`spawnWorkers()` and `removeWorkers()` move it). */
  min: number;
  /** Most workers at once. */
  max: number;
  /** Every live worker. */
  workers: Array<{
    /** Worker id, unique within the pool. */
    id: number;
    /** Process id, undefined if the spawn failed. */
    pid: number | undefined;
    /** Generation it belongs to. */
    generation: number;
    /** Lifecycle state. */
    state: WorkerState;
    /** Open connections, as the worker last reported. */
    load: number;
    /** Handoffs to it not yet acknowledged. */
    inFlight: number;
  }>;
}

/** Time a worker must stay up before its crash-loop count resets. */
const STABLE_AFTER_MS = 10_000;

/**
 * A set of worker processes for a dispatcher: started, scaled between `min` and `max` with demand, health
 * checked, replaced when they crash, and restarted generation by generation without dropping connections.
 */
export class WorkerPool extends EventEmitter<PoolEvents> implements WorkerSet {
  readonly #options: ResolvedPoolOptions;
  readonly #workers = new Set<PoolWorker>();
  #generation = 0;
  #nextId = 1;
  #started: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #restarting: Promise<void> | undefined;
  #demand = 0;
  #consecutiveCrashes = 0;
  #backoffUntil = 0;
  #backoffTimer: NodeJS.Timeout | undefined;
  #housekeeping: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  readonly #counters = { spawned: 0, exited: 0, crashed: 0, restarts: 0 };

  constructor(options: WorkerPoolOptions) {
    super();
    this.#options = resolvePoolOptions(options);
  }

  get maxInFlight(): number {
    return this.#options.maxInFlight;
  }

  /** Workers kept even when idle (the `min` option). */
  get min(): number {
    return this.#options.min;
  }

  /** Most workers at once (the `max` option). */
  get max(): number {
    return this.#options.max;
  }

  /** True once `close()` was called: the pool offers no worker any more. */
  get isClosed(): boolean {
    return this.#closing !== undefined;
  }

  /** The generation that takes connections now (increases with each restart). */
  get generation(): number {
    return this.#generation;
  }

  /** Every worker not yet exited. */
  get workers(): readonly PoolWorker[] {
    return [...this.#workers];
  }

  /**
   * Spawns `min` workers and resolves once each is ready or has failed. Rejects when every one of them
   * failed (with the first one's ERR_PORTUNUS_WORKER_EXITED or ERR_PORTUNUS_READY_TIMEOUT: how it ended, the
   * last lines of its stderr, a hint); the pool keeps respawning with backoff until `close()`. Idempotent.
   */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    if (this.#closing !== undefined) throw new PortunusError('ERR_PORTUNUS_POOL_CLOSED', 'the pool is closed');
    this.#housekeeping = setInterval(
      () => this.#scale(),
      Math.min(1000, Math.max(10, Math.floor(this.#options.idleTimeoutMs / 4))),
    );
    this.#housekeeping.unref();
    if (this.#options.pingIntervalMs > 0) {
      this.#pingTimer = setInterval(() => this.#pingAll(), this.#options.pingIntervalMs);
      this.#pingTimer.unref();
    }
    const initial = Array.from({ length: this.#options.min }, () => this.#spawn(this.#generation, 'min'));
    const outcomes = await Promise.allSettled(initial.map((worker) => this.#readyOrGone(worker)));
    const failed = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (initial.length > 0 && failed.length === initial.length) throw failed[0]!.reason;
  }

  available(): readonly DispatchWorker[] {
    const ready: PoolWorker[] = [];
    for (const worker of this.#workers) {
      // A worker whose channel closed is gone even if its exit has not been reported yet.
      if (worker.state === 'ready' && worker.generation === this.#generation && !worker.channel.isClosed)
        ready.push(worker);
    }
    return ready;
  }

  /** Called by a dispatcher for a worker that holds handoffs past their deadline: it is killed and replaced. */
  reportUnhealthy(worker: DispatchWorker, error: Error): void {
    if (worker instanceof PoolWorker && this.#workers.has(worker)) this.#markUnhealthy(worker, error);
  }

  demand(waiting: number): void {
    this.#demand = waiting;
    this.#scale();
  }

  /**
   * Replaces every worker without dropping a connection: starts a new generation of the same size (at least
   * `min`), waits until all of it is ready, moves dispatch to it, then drains the old one. If the new
   * generation fails to become ready, it is killed and the old one keeps serving (the promise rejects).
   * A restart requested while one runs joins it.
   */
  restart(): Promise<void> {
    this.#restarting ??= this.#restart().finally(() => {
      this.#restarting = undefined;
    });
    return this.#restarting;
  }

  async #restart(): Promise<void> {
    if (this.#closing !== undefined) throw new PortunusError('ERR_PORTUNUS_POOL_CLOSED', 'the pool is closed');
    await this.start();
    const old = [...this.#workers].filter(
      (worker) => worker.generation === this.#generation && (worker.state === 'starting' || worker.state === 'ready'),
    );
    const size = Math.max(this.#options.min, old.length);
    const next = this.#generation + 1;
    const fresh = Array.from({ length: size }, () => this.#spawn(next, 'restart'));
    try {
      await Promise.all(fresh.map((worker) => this.#readyOrGone(worker)));
    } catch (error) {
      for (const worker of fresh) worker.drain(0);
      throw error;
    }
    this.#generation = next;
    this.#counters.restarts++;
    this.emit('capacity');
    for (const worker of old) worker.drain(this.#options.drainTimeoutMs);
    await Promise.all(old.map((worker) => worker.exited()));
    this.emit('restart', { generation: next });
  }

  /**
   * Starts `count` more workers now (fewer if `max` would be passed) and keeps them: `min` rises to the new
   * number of workers, so they are not retired when idle. Returns how many were started (0 at `max`).
   * Throws ERR_PORTUNUS_POOL_CLOSED after `close()`, ERR_INVALID_ARG_* for a count that is not an integer >= 1.
   */
  spawnWorkers(count: number): number {
    validateInteger(count, 'count', 1);
    if (this.#closing !== undefined) throw new PortunusError('ERR_PORTUNUS_POOL_CLOSED', 'the pool is closed');
    const active = this.#activeCount();
    const added = Math.max(0, Math.min(count, this.#options.max - active));
    this.#options.min = Math.max(this.#options.min, active + added);
    // Before start() the pool spawns `min` workers itself.
    if (this.#started !== undefined) for (let i = 0; i < added; i++) this.#spawn(this.#generation, 'spawn-workers');
    return added;
  }

  /**
   * Drains `count` workers of the current generation (fewer if there are not that many), idlest first, and
   * lowers `min` to the number left if it was above. Each finishes its connections first, as in a restart.
   * Returns how many were asked to drain. Throws as `spawnWorkers()` does.
   */
  removeWorkers(count: number): number {
    validateInteger(count, 'count', 1);
    if (this.#closing !== undefined) throw new PortunusError('ERR_PORTUNUS_POOL_CLOSED', 'the pool is closed');
    const active = [...this.#workers].filter(
      (w) => w.generation === this.#generation && (w.state === 'starting' || w.state === 'ready'),
    );
    // Workers still starting go first (they hold nothing), then the ready ones with the least open.
    active.sort((a, b) => rank(a) - rank(b));
    const removed = active.slice(0, Math.min(count, active.length));
    this.#options.min = Math.min(this.#options.min, active.length - removed.length);
    for (const worker of removed) worker.drain(this.#options.drainTimeoutMs);
    if (removed.length > 0) {
      this.emit('scale', { direction: 'down', workers: active.length - removed.length, reason: 'remove-workers' });
      this.emit('capacity');
    }
    return removed.length;
  }

  /** Drains every worker and resolves once all have exited. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#housekeeping);
      clearInterval(this.#pingTimer);
      clearTimeout(this.#backoffTimer);
      const workers = [...this.#workers];
      for (const worker of workers) worker.drain(this.#options.drainTimeoutMs);
      this.emit('capacity');
      await Promise.all(workers.map((worker) => worker.exited()));
    })();
    return this.#closing;
  }

  /** Counters and every worker's state, as a snapshot. */
  stats(): PoolStats {
    return {
      generation: this.#generation,
      ...this.#counters,
      min: this.#options.min,
      max: this.#options.max,
      workers: [...this.#workers].map((w) => ({
        id: w.id,
        pid: w.pid,
        generation: w.generation,
        state: w.state,
        load: w.load,
        inFlight: w.inFlight,
      })),
    };
  }

  #spawn(generation: number, reason: string): PoolWorker {
    const worker = new PoolWorker(this.#nextId++, generation, this.#options, {
      ready: (ready) => this.#onReady(ready),
      load: () => this.#scale(),
      exited: (gone, exit) => this.#onExit(gone, exit),
    });
    this.#workers.add(worker);
    this.#counters.spawned++;
    worker.after(this.#options.readyTimeoutMs, () => {
      if (worker.state !== 'starting' || worker.pid === undefined) return;
      // What it listens on tells a worker that calls server.listen() from one that is merely slow.
      void listeningAddressesOf(worker.pid).then((listening) => {
        if (worker.state !== 'starting') return;
        worker.readyTimeout = { listening };
        worker.kill('SIGKILL');
      });
    });
    this.emit('spawn', worker);
    if (reason === 'high water' || reason === 'connections waiting' || reason === 'spawn-workers')
      this.emit('scale', { direction: 'up', workers: this.#activeCount(), reason });
    return worker;
  }

  /** Resolves when the worker is ready; rejects if it exits (or is killed for lateness) first. */
  #readyOrGone(worker: PoolWorker): Promise<void> {
    return new Promise((resolve, reject) => {
      if (worker.state === 'ready') return resolve();
      const onReady = (ready: PoolWorker) => {
        if (ready !== worker) return;
        this.off('ready', onReady);
        this.off('exit', onExit);
        resolve();
      };
      const onExit = (gone: PoolWorker, exit: WorkerExit) => {
        if (gone !== worker) return;
        this.off('ready', onReady);
        this.off('exit', onExit);
        reject(
          worker.failure ??
            new PortunusError(
              'ERR_PORTUNUS_WORKER_EXITED',
              `worker ${worker.id} was stopped (code ${exit.code}, signal ${exit.signal}) before it was ready`,
              { exit },
            ),
        );
      };
      this.on('ready', onReady);
      this.on('exit', onExit);
    });
  }

  #onReady(worker: PoolWorker): void {
    worker.idleSince = Date.now();
    worker.after(STABLE_AFTER_MS, () => {
      if (worker.state === 'ready') this.#consecutiveCrashes = 0;
    });
    this.emit('ready', worker);
    this.emit('capacity');
  }

  #onExit(worker: PoolWorker, exit: WorkerExit): void {
    this.#workers.delete(worker);
    this.#counters.exited++;
    if (!exit.expected) worker.failure = workerFailure(worker, exit, this.#options.readyTimeoutMs);
    if (!exit.expected && this.#closing === undefined) {
      this.#counters.crashed++;
      this.#consecutiveCrashes++;
      const delay = Math.min(
        this.#options.backoffMaxMs,
        this.#options.backoffInitialMs * 2 ** (this.#consecutiveCrashes - 1),
      );
      this.#reportCrash(worker, worker.failure!, delay);
      this.#backoffUntil = Date.now() + delay;
      clearTimeout(this.#backoffTimer);
      this.#backoffTimer = setTimeout(() => {
        // The timer measures from the loop's cached time, so it can fire a few ms before Date.now() reaches
        // #backoffUntil: the backoff is over when it fires, or the respawn would wait for housekeeping (1 s).
        this.#backoffUntil = 0;
        this.#scale();
      }, delay);
      this.#backoffTimer.unref();
    }
    this.emit('exit', worker, exit);
    this.emit('capacity');
    this.#scale();
  }

  /** A failure is never only an event nobody listens to: without a 'crash' listener it goes to stderr. */
  #reportCrash(worker: PoolWorker, error: PortunusError, respawnInMs: number): void {
    if (this.listenerCount('crash') > 0) this.emit('crash', { worker, error, respawnInMs });
    else
      process.emitWarning(`${error.message}\n(next worker in ${respawnInMs} ms)`, {
        type: 'PortunusWarning',
        code: error.code,
      });
  }

  #markUnhealthy(worker: PoolWorker, error: Error): void {
    // A draining worker that stopped acknowledging is as stuck as a ready one; one starting holds nothing.
    if (worker.state !== 'ready' && worker.state !== 'draining') return;
    this.emit('unhealthy', worker, error);
    worker.kill('SIGKILL');
  }

  #activeCount(): number {
    let count = 0;
    for (const worker of this.#workers)
      if (worker.generation === this.#generation && (worker.state === 'starting' || worker.state === 'ready')) count++;
    return count;
  }

  /** Grows to meet `min` and demand, retires one idle worker when above `min`. */
  #scale(): void {
    if (this.#closing !== undefined || this.#started === undefined) return;
    const now = Date.now();
    const active = [...this.#workers].filter(
      (w) => w.generation === this.#generation && (w.state === 'starting' || w.state === 'ready'),
    );
    const ready = active.filter((w) => w.state === 'ready');
    const starting = active.length - ready.length;
    for (const worker of ready) {
      // Load reports are rate-limited, so short connections can come and go between two of them: a
      // handoff since the last look counts as activity too.
      const busy = worker.load > 0 || worker.inFlight > 0 || worker.handedOff !== worker.handedOffSeen;
      worker.handedOffSeen = worker.handedOff;
      if (busy) worker.idleSince = undefined;
      else worker.idleSince ??= now;
    }
    const canSpawn = now >= this.#backoffUntil && active.length < this.#options.max;
    if (active.length < this.#options.min) {
      if (canSpawn) this.#spawn(this.#generation, 'min');
      return;
    }
    if (canSpawn && starting === 0) {
      const concurrency = ready.reduce((sum, w) => sum + w.load + w.inFlight, 0);
      const windowsFull = ready.every((w) => w.inFlight >= this.#options.maxInFlight);
      if (this.#demand > 0 && windowsFull) {
        this.#spawn(this.#generation, 'connections waiting');
        return;
      }
      if (ready.length > 0 && concurrency > this.#options.highWater * ready.length) {
        this.#spawn(this.#generation, 'high water');
        return;
      }
    }
    if (active.length > this.#options.min && this.#restarting === undefined) {
      const idle = ready.find((w) => w.idleSince !== undefined && now - w.idleSince >= this.#options.idleTimeoutMs);
      if (idle !== undefined) {
        idle.drain(this.#options.drainTimeoutMs);
        this.emit('scale', { direction: 'down', workers: active.length - 1, reason: 'idle' });
        this.emit('capacity');
      }
    }
  }

  #pingAll(): void {
    for (const worker of this.#workers) {
      if (worker.state !== 'ready') continue;
      worker.channel.ping(this.#options.pingTimeoutMs).catch((error: Error) => this.#markUnhealthy(worker, error));
    }
  }
}

/** Order in which removeWorkers() picks workers: starting ones, then ready ones by what they have open. */
function rank(worker: PoolWorker): number {
  return worker.state === 'starting' ? -1 : worker.load + worker.inFlight;
}
