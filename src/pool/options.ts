/**
 * WorkerPool options: validation and defaults in one place. Times are in milliseconds.
 * @module
 */
import os from 'node:os';
import { planActivation, type ActivationPlan } from '../bootstrap/index.js';
import { invalidArgument } from '../errors.js';
import {
  validateBoolean,
  validateInteger,
  validateObject,
  validateOneOf,
  validateString,
  validateTimeout,
} from '../validate.js';

/** Options of `new WorkerPool()`. */
export interface WorkerPoolOptions {
  /** Program to run for each worker. Default: this Node binary (`process.execPath`). */
  command?: string;
  /** Its arguments (for Node: the worker script first). Default []. */
  args?: readonly string[];
  /** Environment added to this process's for each worker. */
  env?: Record<string, string | undefined>;
  /** Working directory of the workers. Default: this process's. */
  cwd?: string;
  /** Workers kept running even when idle; 0 is allowed (spawned on the first connection). Default 1. */
  min?: number;
  /** Most workers at once. Default: the number of CPUs. */
  max?: number;
  /** Open plus in-flight connections per worker above which another worker is started. Default 64. */
  highWater?: number;
  /** A worker with nothing open for this long retires (down to `min`). Default 30 000. */
  idleTimeoutMs?: number;
  /** A worker that has not called adoptConnections within this time is killed. Default 10 000. */
  readyTimeoutMs?: number;
  /** Unacknowledged handoffs per worker. Default 32. */
  maxInFlight?: number;
  /** A draining worker still running after this time gets SIGTERM (SIGKILL 5 s later). Default 30 000. */
  drainTimeoutMs?: number;
  /** Interval of health pings; 0 turns them off. Default 5 000. */
  pingIntervalMs?: number;
  /** A ping unanswered for this long marks the worker unhealthy; it is replaced. Default 5 000. */
  pingTimeoutMs?: number;
  /** First delay before respawning after a crash; doubles per consecutive crash. Default 100. */
  backoffInitialMs?: number;
  /** Longest respawn delay. Default 30 000. */
  backoffMaxMs?: number;
  /**
   * The workers' stdout and stderr: this process's ('inherit') or nowhere ('ignore'). Either way stderr passes
   * through this process, which keeps its last lines to report a worker that fails. Default 'inherit'.
   */
  stdio?: 'inherit' | 'ignore';
  /**
   * Run each worker in a session and process group of its own, so that signals sent to this process's group
   * (the terminal's Ctrl-C) reach only this process, which then drains the workers (see
   * `shutdownOnSignals()`). Workers exit by themselves when this process's channel to them closes, even if it
   * is killed. Default true.
   */
  detached?: boolean;
  /**
   * Inherit mode: the workers are programs in any language that take their listeners the systemd way
   * (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID, descriptors from 3; see `spawnActivated()`), one process per
   * worker, instead of Node workers fed over a channel. Each `{ name, fd }` is a listening socket (or any
   * descriptor) that this process keeps open for as long as the pool runs and does not serve itself; every
   * worker gets a copy. `serveListeners({ listen, pool, mode: 'inherit' })` fills this in with the socket it
   * opens. An inherit pool runs `min` workers (it has no load reports to scale by), replaces those that exit,
   * and restarts by overlapping generations; a dispatcher cannot hand connections to its workers.
   */
  listeners?: ReadonlyArray<{
    /** Name in LISTEN_FDNAMES. Default 'unknown'. */
    name?: string;
    /** The descriptor, owned by the caller. */
    fd: number;
  }>;
  /**
   * Inherit mode: a worker counts as ready once it has been running this long without exiting (it has no
   * channel to say so). A restart stops the old generation only then; connections that arrive meanwhile wait
   * in the listening socket's queue, which the master keeps open, so a short grace costs latency, not
   * connections. Must be below `readyTimeoutMs`. Default 1 000.
   */
  readyAfterMs?: number;
}

export interface ResolvedPoolOptions {
  command: string;
  args: readonly string[];
  env: Record<string, string | undefined>;
  cwd: string | undefined;
  min: number;
  max: number;
  highWater: number;
  idleTimeoutMs: number;
  readyTimeoutMs: number;
  maxInFlight: number;
  drainTimeoutMs: number;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  stdio: 'inherit' | 'ignore';
  detached: boolean;
  /** Inherit mode's descriptors and variables; undefined for Node workers with a channel. */
  inherit: ActivationPlan | undefined;
  readyAfterMs: number;
}

const NUMBERS = [
  ['min', 0],
  ['max', 1],
  ['highWater', 1],
  ['idleTimeoutMs', 1],
  ['readyTimeoutMs', 1],
  ['maxInFlight', 1],
  ['drainTimeoutMs', 1],
  ['pingIntervalMs', 0],
  ['pingTimeoutMs', 1],
  ['backoffInitialMs', 1],
  ['backoffMaxMs', 1],
  ['readyAfterMs', 0],
] as const;

export function resolvePoolOptions(options: WorkerPoolOptions): ResolvedPoolOptions {
  validateObject(options, 'options');
  const resolved: ResolvedPoolOptions = {
    command: options.command ?? process.execPath,
    args: options.args ?? [],
    env: options.env ?? {},
    cwd: options.cwd,
    min: options.min ?? 1,
    max: options.max ?? Math.max(1, os.availableParallelism?.() ?? os.cpus().length),
    highWater: options.highWater ?? 64,
    idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
    readyTimeoutMs: options.readyTimeoutMs ?? 10_000,
    maxInFlight: options.maxInFlight ?? 32,
    drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
    pingIntervalMs: options.pingIntervalMs ?? 5_000,
    pingTimeoutMs: options.pingTimeoutMs ?? 5_000,
    backoffInitialMs: options.backoffInitialMs ?? 100,
    backoffMaxMs: options.backoffMaxMs ?? 30_000,
    stdio: options.stdio ?? 'inherit',
    detached: options.detached ?? true,
    inherit: undefined,
    readyAfterMs: options.readyAfterMs ?? 1_000,
  };
  validateString(resolved.command, 'options.command', { nonEmpty: true });
  if (!Array.isArray(resolved.args) || !resolved.args.every((arg) => typeof arg === 'string'))
    throw invalidArgument('options.args', 'an array of strings', options.args);
  if (options.env !== undefined) validateObject(options.env, 'options.env');
  if (options.cwd !== undefined) validateString(options.cwd, 'options.cwd', { nonEmpty: true });
  for (const [key, minimum] of NUMBERS) {
    if (key.endsWith('Ms')) validateTimeout(resolved[key], `options.${key}`, minimum);
    else validateInteger(resolved[key], `options.${key}`, minimum);
  }
  if (resolved.min > resolved.max)
    throw invalidArgument('options.min', `at most max (${resolved.max})`, resolved.min, 'value');
  validateOneOf(resolved.stdio, 'options.stdio', ['inherit', 'ignore']);
  validateBoolean(resolved.detached, 'options.detached');
  if (options.listeners !== undefined)
    resolved.inherit = planInheritedListeners(options.listeners, 'options.listeners');
  if (resolved.inherit !== undefined) checkGrace(resolved);
  return resolved;
}

/** Inherit mode: the grace period must end before the ready timeout would kill a worker that is still starting. */
export function checkGrace(resolved: ResolvedPoolOptions): void {
  if (resolved.readyAfterMs >= resolved.readyTimeoutMs) {
    throw invalidArgument(
      'options.readyAfterMs',
      `below readyTimeoutMs (${resolved.readyTimeoutMs}) in inherit mode`,
      resolved.readyAfterMs,
      'value',
    );
  }
}

/**
 * Checks inherit mode's listeners: descriptors only, since a Node object would keep serving in this process
 * (a net.Server accepting, a dgram.Socket reading) alongside the workers.
 */
export function planInheritedListeners(listeners: unknown, name: string): ActivationPlan {
  if (Array.isArray(listeners)) {
    listeners.forEach((listener: unknown, index) => {
      if (
        typeof listener !== 'object' ||
        listener === null ||
        !('fd' in listener) ||
        Object.keys(listener).some((key) => key !== 'fd' && key !== 'name')
      )
        throw invalidArgument(`${name}[${index}]`, 'a { name, fd } of a socket this process does not serve', listener);
    });
  }
  return planActivation(listeners, name);
}
