/**
 * The pool layer's door: WorkerPool, its workers as users see them, and shutdownOnSignals().
 * @module
 */
export { WorkerPool, type PoolEvents, type PoolStats } from './worker-pool.js';
export type { WorkerPoolOptions } from './options.js';
export type { PoolWorker, WorkerState, WorkerExit } from './pool-worker.js';
export { shutdownOnSignals, type Closable, type ShutdownOptions } from './shutdown-on-signals.js';
