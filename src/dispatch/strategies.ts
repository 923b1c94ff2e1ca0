/**
 * How the dispatcher picks a worker for a connection. Each strategy sees only workers with room in their
 * handoff window.
 * @module
 */
import { invalidArgument } from '../errors.js';
import type { DispatchWorker } from './worker-set.js';

/** What a strategy knows about the connection. */
export interface ConnectionInfo {
  /** Remote address; present for the 'hash' strategy and for routed connections. */
  remoteAddress?: string | undefined;
}

/** A custom strategy: return one of `workers`, or undefined to keep the connection waiting. */
export type StrategyFunction = (
  workers: readonly DispatchWorker[],
  connection: ConnectionInfo,
) => DispatchWorker | undefined;

/** How the dispatcher picks a worker within a group: a built-in strategy by name, or your own function. */
export type Strategy = 'round-robin' | 'least-busy' | 'hash' | StrategyFunction;

/** A strategy as the dispatcher uses it, plus whether it needs the remote address. */
export interface ResolvedStrategy {
  pick: StrategyFunction;
  needsAddress: boolean;
}

export function resolveStrategy(strategy: Strategy = 'round-robin'): ResolvedStrategy {
  if (typeof strategy === 'function') return { pick: strategy, needsAddress: false };
  switch (strategy) {
    case 'round-robin':
      return { pick: roundRobin(), needsAddress: false };
    case 'least-busy':
      return { pick: leastBusy, needsAddress: false };
    case 'hash':
      return { pick: byAddressHash, needsAddress: true };
    default:
      throw invalidArgument('options.strategy', "'round-robin', 'least-busy', 'hash' or a function", strategy, 'value');
  }
}

function roundRobin(): StrategyFunction {
  let next = 0;
  return (workers) => {
    if (workers.length === 0) return undefined;
    const worker = workers[next % workers.length];
    next = (next + 1) % 0x7fffffff;
    return worker;
  };
}

/** The worker with the fewest open plus in-flight connections (ties: the first). */
function leastBusy(workers: readonly DispatchWorker[]): DispatchWorker | undefined {
  let best: DispatchWorker | undefined;
  for (const worker of workers) {
    if (best === undefined || worker.load + worker.inFlight < best.load + best.inFlight) best = worker;
  }
  return best;
}

/** FNV-1a of the remote address: one client keeps landing on the same worker while the set is stable. */
function byAddressHash(workers: readonly DispatchWorker[], connection: ConnectionInfo): DispatchWorker | undefined {
  if (workers.length === 0) return undefined;
  let hash = 0x811c9dc5;
  const address = connection.remoteAddress ?? '';
  for (let i = 0; i < address.length; i++) {
    hash ^= address.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return workers[hash % workers.length];
}
