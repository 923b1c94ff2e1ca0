/**
 * PoolWorker: one child process of a WorkerPool and the channel to it. Knows its lifecycle state and the
 * load it reports; the pool decides what happens to it.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { CHANNEL_FD_ENV, spawnWithActivation, type ActivationPlan } from '../bootstrap/index.js';
import { socketPairForChild, type Channel } from '../channel/index.js';
import { decodeLoad, WorkerFrame } from '../dispatch/index.js';
import type { PortunusError } from '../errors.js';
import type { ResolvedPoolOptions } from './options.js';
import { StderrTail } from './stderr-tail.js';

/** How long a draining worker may live on after closing its channel. */
const LINGER_AFTER_CLOSE_MS = 5_000;
/** After the exit, how long the last of its stderr may take to arrive before the exit is reported. */
const STDERR_SETTLE_MS = 200;

/** starting: spawned, not ready yet; ready: takes connections; draining: finishing; exited: gone. */
export type WorkerState = 'starting' | 'ready' | 'draining' | 'exited';

/** How a worker process ended. */
export interface WorkerExit {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  /** The signal that ended it, or null. */
  signal: NodeJS.Signals | null;
  /** The pool asked it to go (drain, retire, restart, close) rather than it crashing. */
  expected: boolean;
}

export interface WorkerCallbacks {
  ready(worker: PoolWorker): void;
  load(worker: PoolWorker): void;
  exited(worker: PoolWorker, exit: WorkerExit): void;
}

/**
 * One worker process of a WorkerPool, as its events and `pool.workers` give it: id, generation, state, load,
 * its channel (none in inherit mode) and its ChildProcess. The pool creates and ends workers; applications only read them.
 */
export class PoolWorker {
  /** Stable id within its pool. */
  readonly id: number;
  /** The pool generation this worker belongs to. */
  readonly generation: number;
  /** The channel to the worker; undefined in inherit mode (`listeners`), whose workers have none. */
  readonly channel: Channel | undefined;
  /** The worker's process. */
  readonly child: ChildProcess;
  /** When it was spawned (`Date.now()`). */
  readonly spawnedAt = Date.now();
  /** Where it is in its lifecycle. */
  state: WorkerState = 'starting';
  /** Connections the worker reports open (LOAD frames); 0 in inherit mode, which has no reports. */
  load = 0;
  /** Handoffs sent to this worker and not yet acknowledged; maintained by the dispatcher. */
  inFlight = 0;
  /** Handoffs this worker acknowledged; maintained by the dispatcher. */
  handedOff = 0;
  /** `handedOff` when the pool last looked: a change means the worker was busy meanwhile. */
  handedOffSeen = 0;
  /** When it last had nothing open or in flight (undefined while busy). */
  idleSince: number | undefined;
  /** @internal It became ready at least once. */
  wasReady = false;
  /** @internal The pool killed it for not becoming ready in time; the TCP addresses it listened on then. */
  readyTimeout: { listening: string[] } | undefined;
  /** @internal Why it ended, when it ended without being asked to; set by the pool before 'exit' is emitted. */
  failure: PortunusError | undefined;
  /** @internal The end of what it wrote to stderr. */
  readonly stderr: StderrTail | undefined;
  /** @internal Why spawning it failed (ENOENT for a missing command…), if it did. */
  spawnError: Error | undefined;
  readonly #timers = new Set<NodeJS.Timeout>();
  #exitReported = false;
  #markExited!: () => void;
  readonly #exited = new Promise<void>((resolve) => (this.#markExited = resolve));

  /**
   * @internal Workers are created by their WorkerPool. Spawns the process with its end of a fresh channel
   * as descriptor 3 (PORTUNUS_CHANNEL_FD=3), or on Windows as an inherited handle (PORTUNUS_CHANNEL_FD is
   * its value); or, in inherit mode, with the pool's listeners from descriptor 3 on (LISTEN_FDS…) and no
   * channel.
   */
  constructor(id: number, generation: number, options: ResolvedPoolOptions, callbacks: WorkerCallbacks) {
    this.id = id;
    this.generation = generation;
    const identity = { PORTUNUS_WORKER_ID: String(id), PORTUNUS_WORKER_GENERATION: String(generation) };
    if (options.inherit !== undefined) {
      this.channel = undefined;
      this.child = spawnInheriting(options, options.inherit, identity);
    } else {
      const { channel, childStdio, childEnv, closeChildFd } = socketPairForChild();
      this.channel = channel;
      let spawned: ChildProcess | undefined;
      try {
        spawned = this.child = spawn(options.command, [...options.args], {
          cwd: options.cwd,
          env: { ...process.env, ...options.env, [CHANNEL_FD_ENV]: childEnv, ...identity },
          // stderr always comes through us, so that a failed start can be reported with what the worker said.
          stdio: ['ignore', options.stdio, 'pipe', ...childStdio],
          // In a session (and process group) of its own, the terminal's Ctrl-C reaches only the master, which
          // drains its workers instead of watching them die mid-request.
          detached: options.detached,
        });
      } catch (error) {
        channel.destroy(error as Error);
        throw error;
      } finally {
        // The child has its copy now (or never will): ours would keep the channel open after the child died.
        closeChildFd(spawned?.pid);
      }
    }
    this.stderr =
      this.child.stderr === null ? undefined : new StderrTail(this.child.stderr, options.stdio === 'inherit');
    const report = (code: number | null, signal: NodeJS.Signals | null) => {
      if (this.#exitReported) return;
      this.#exitReported = true;
      const expected = this.state === 'draining';
      this.state = 'exited';
      for (const timer of this.#timers) clearTimeout(timer);
      this.#timers.clear();
      this.channel?.destroy();
      callbacks.exited(this, { code, signal, expected });
      this.#markExited();
    };
    // The exit is reported once the last of its stderr is read (or a moment later): a failure report without
    // the worker's last words is no help.
    this.child.once('exit', (code, signal) => {
      void (this.stderr?.settled(STDERR_SETTLE_MS) ?? Promise.resolve()).then(() => report(code, signal));
    });
    this.child.once('error', (error) => {
      if (this.child.pid === undefined) this.spawnError = error;
      report(null, null);
    });
    if (this.channel === undefined) {
      // Without a channel nobody can say "ready": a worker still running after the grace period is.
      this.after(options.readyAfterMs, () => this.#becomeReady(callbacks));
      return;
    }
    const channel = this.channel;
    channel.on('error', () => {});
    channel.extend({
      name: 'WorkerPool',
      frames: {
        [WorkerFrame.READY]: () => this.#becomeReady(callbacks),
        [WorkerFrame.LOAD]: (message) => {
          const load = decodeLoad(message.payload);
          if (load === undefined) return;
          this.load = load;
          callbacks.load(this);
        },
      },
    });
    // A worker that closes its channel but lingers cannot be reached any more: end it. A draining worker
    // closes its channel just before it exits: give it a moment to do so by itself.
    channel.once('close', () => {
      if (this.#exitReported) return;
      if (this.state === 'draining') this.after(LINGER_AFTER_CLOSE_MS, () => this.kill('SIGKILL'));
      else this.kill('SIGKILL');
    });
  }

  #becomeReady(callbacks: WorkerCallbacks): void {
    if (this.state !== 'starting') return;
    this.state = 'ready';
    this.wasReady = true;
    callbacks.ready(this);
  }

  /** Process id, undefined if the spawn failed. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Runs `fn` after `ms` unless the worker exits first. */
  after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    this.#timers.add(timer);
  }

  /**
   * Asks the worker to finish what it has and exit; SIGTERM after `timeoutMs`, SIGKILL 5 s later. An inherit
   * mode worker is asked with SIGTERM (the systemd way: finish what you have, then exit) and gets SIGKILL
   * after `timeoutMs`.
   */
  drain(timeoutMs: number): void {
    if (this.state === 'draining' || this.state === 'exited') return;
    this.state = 'draining';
    if (this.channel === undefined) {
      this.kill('SIGTERM');
      this.after(timeoutMs, () => this.kill('SIGKILL'));
      return;
    }
    this.channel.writeFrame(WorkerFrame.DRAIN, JSON.stringify({ timeoutMs }), []);
    this.after(timeoutMs, () => {
      this.kill('SIGTERM');
      this.after(5_000, () => this.kill('SIGKILL'));
    });
  }

  /** Sends `signal` to the process unless it has exited already. */
  kill(signal: NodeJS.Signals): void {
    if (this.state !== 'exited' && this.child.exitCode === null && this.child.signalCode === null)
      this.child.kill(signal);
  }

  /** Resolves when the process has exited. */
  exited(): Promise<void> {
    return this.#exited;
  }
}

/** An inherit mode worker: the command started with the pool's listeners the systemd way (spawnActivated()). */
function spawnInheriting(
  options: ResolvedPoolOptions,
  plan: ActivationPlan,
  identity: Record<string, string>,
): ChildProcess {
  return spawnWithActivation(options.command, options.args, plan, {
    cwd: options.cwd,
    env: { ...options.env, ...identity },
    stdio: ['ignore', options.stdio, 'pipe'],
    detached: options.detached,
  });
}
