/**
 * What the dispatcher needs from a set of workers. WorkerPool implements it; so can anything else that owns
 * channels to processes serving connections.
 * @module
 */
import type { Channel } from '../channel/index.js';

/** One process connections can be handed to. */
export interface DispatchWorker {
  /** Stable id within its set. */
  readonly id: number;
  /** Channel to the worker. */
  readonly channel: Channel;
  /** Connections the worker reports open (LOAD frames). */
  readonly load: number;
  /** Handoffs sent to this worker and not yet acknowledged; maintained by the dispatcher. */
  inFlight: number;
  /** Handoffs this worker acknowledged; maintained by the dispatcher (the set uses it to tell busy from idle). */
  handedOff: number;
}

/** Events a {@link WorkerSet} emits. */
export interface WorkerSetEvents {
  /** Something changed that may let waiting connections go: a worker became ready, one left. */
  capacity: [];
}

/** A group of workers the dispatcher can hand connections to; `WorkerPool` is one. */
export interface WorkerSet {
  /** Subscribes to 'capacity'. */
  on(event: 'capacity', listener: () => void): unknown;
  /** Unsubscribes from 'capacity'. */
  off?(event: 'capacity', listener: () => void): unknown;
  /** Workers the set keeps running even without demand; serveListeners() needs at least one. */
  readonly min?: number;
  /** Most workers the set runs at once; serveListeners() in 'reuseport' mode opens one listener per worker. */
  readonly max?: number;
  /** Most unacknowledged handoffs per worker. */
  readonly maxInFlight: number;
  /**
   * True once the set will never offer a worker again (it was closed). Connections waiting for such a set
   * are closed by the dispatcher instead of waiting forever; emit 'capacity' when this becomes true.
   */
  readonly isClosed?: boolean;
  /** Starts the set (spawns its minimum); resolves when those are ready. Idempotent. */
  start(): Promise<void>;
  /** Workers that take new connections now, in a stable order. */
  available(): readonly DispatchWorker[];
  /**
   * The dispatcher found `worker` not adopting connections (`error` says how: ERR_PORTUNUS_ACK_TIMEOUT). It
   * sends it nothing more. End the worker's process: the handoffs it holds go to other workers once its
   * channel closes, and not before, since a live worker could still adopt them. Without this method they
   * wait for the channel to close by itself.
   */
  reportUnhealthy?(worker: DispatchWorker, error: Error): void;
  /** Stops the set; acceptAndDispatch() calls it when it fails to start. */
  close?(): Promise<void>;
  /**
   * The dispatcher holds `waiting` connections that no worker has room for, or the load changed: grow (or
   * note the demand) if the set's policy allows.
   */
  demand(waiting: number): void;
}

/** @internal True for anything that implements WorkerSet (a WorkerPool, or a set of the application's own). */
export function isWorkerSet(value: unknown): value is WorkerSet {
  const candidate = value as Partial<WorkerSet> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.available === 'function' &&
    typeof candidate.demand === 'function' &&
    typeof candidate.start === 'function' &&
    typeof candidate.on === 'function'
  );
}
