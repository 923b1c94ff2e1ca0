/**
 * shutdownOnSignals(): the usual ending of a master process, done in the right order. On SIGINT or SIGTERM
 * the dispatcher stops accepting and hands what it accepted to workers, then the pool drains its workers
 * (each finishes the connections it has), then the process exits. A second signal while that runs exits at
 * once; the workers, in process groups of their own, still finish by themselves when the channel closes.
 * @module
 */
import { invalidArgument } from '../errors.js';
import { validateBoolean, validateFunction, validateOptions, validateTimeout } from '../validate.js';

/** Something shutdownOnSignals() closes: a Dispatcher, a WorkerPool, a ChannelServer… */
export interface Closable {
  /** Resolves once closed; given `{ timeoutMs }` (a Dispatcher uses it, others may ignore it). */
  close(options?: { timeoutMs?: number }): Promise<unknown>;
}

/** Options of `shutdownOnSignals()`. */
export interface ShutdownOptions {
  /** Signals that start the shutdown. Default ['SIGINT', 'SIGTERM']. */
  signals?: readonly NodeJS.Signals[];
  /**
   * Passed to each `close()` as `{ timeoutMs }`: for a Dispatcher, how long accepted connections may still
   * wait for a worker, in ms. Default 10 000.
   */
  timeoutMs?: number;
  /** Exit the process once everything is closed: code 0, or 1 if a close failed. Default true. */
  exit?: boolean;
  /** Told when a signal starts the shutdown (to log it, say). */
  onSignal?: (signal: NodeJS.Signals) => void;
}

/**
 * On the first of `signals`, closes `closables` one after the other, in the order given (the dispatcher
 * first, then the pool), and exits. Returns a function that removes the signal handlers again.
 */
export function shutdownOnSignals(closables: readonly Closable[], options: ShutdownOptions = {}): () => void {
  if (!Array.isArray(closables) || !closables.every((closable) => typeof closable?.close === 'function')) {
    throw invalidArgument('closables', 'an array of objects with a close() method', closables);
  }
  const given = validateOptions(options);
  const signals = given.signals ?? ['SIGINT', 'SIGTERM'];
  if (!Array.isArray(signals) || signals.length === 0 || !signals.every((signal) => typeof signal === 'string')) {
    throw invalidArgument('options.signals', 'a non-empty array of signal names', signals);
  }
  const timeoutMs = given.timeoutMs ?? 10_000;
  validateTimeout(timeoutMs, 'options.timeoutMs', 0);
  if (given.onSignal !== undefined) validateFunction(given.onSignal, 'options.onSignal');
  if (given.exit !== undefined) validateBoolean(given.exit, 'options.exit');
  const exit = given.exit ?? true;

  let shuttingDown = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      // Asked twice: the user wants out now.
      if (exit) process.exit(1);
      return;
    }
    shuttingDown = true;
    given.onSignal?.(signal);
    void (async () => {
      let failed = false;
      for (const closable of closables) {
        try {
          await closable.close({ timeoutMs });
        } catch (error) {
          failed = true;
          process.emitWarning(error as Error);
        }
      }
      if (exit) process.exit(failed ? 1 : 0);
    })();
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
