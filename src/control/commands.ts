/**
 * The control commands: one table from each command's name to what it does, its argument and a line of help.
 * A command gets the words after its name and returns a JSON-able result, or throws a PortunusError that is
 * answered as an error; it never sees the socket.
 * @module
 */
import type { Dispatcher, ListenerServer } from '../dispatch/index.js';
import { PortunusError } from '../errors.js';
import type { WorkerPool } from '../pool/index.js';
import type { ServeMetrics } from './metrics.js';

/** What the control socket steers: the master's pool, what serves in front of it, and its metrics. */
export interface ControlTarget {
  /** The workers. */
  pool: WorkerPool;
  /** The metrics answered by `metrics`. */
  metrics: ServeMetrics;
  /** The listener mode, as `stats` reports it ('dispatch', 'shared'…). */
  mode: string;
  /** Dispatchers in front of the pool (dispatch mode). */
  dispatchers?: readonly Dispatcher[];
  /** Listener servers in front of the pool (shared mode). */
  listeners?: readonly ListenerServer[];
  /** Fewest workers `remove-workers` may leave (shared mode needs one to accept). Default 0. */
  minWorkers?: number;
  /** Hands the listeners to a new master (`upgrade`); absent where takeover is not available. */
  upgrade?: () => Promise<unknown>;
}

interface Command {
  /** Its argument, for help ('N'), or undefined for none. */
  argument: string | undefined;
  help: string;
  run(target: ControlTarget, args: readonly string[]): unknown;
}

/** Largest N that spawn-workers and remove-workers take (a typo of 10000 should not fork ten thousand). */
const MAX_COUNT = 1024;

export const COMMANDS: Readonly<Record<string, Command>> = {
  'restart-workers': {
    argument: undefined,
    help: 'start a new generation of workers, move connections to it, drain the old one',
    async run(target) {
      await target.pool.restart();
      return { generation: target.pool.generation };
    },
  },
  'spawn-workers': {
    argument: 'N',
    help: 'start N more workers now and keep them (min rises), up to max',
    run(target, args) {
      const started = target.pool.spawnWorkers(count(args));
      return { started, ...sizeOf(target.pool) };
    },
  },
  'remove-workers': {
    argument: 'N',
    help: 'drain N workers, idlest first (min falls if it was above what is left)',
    run(target, args) {
      const active = sizeOf(target.pool).workers;
      const wanted = Math.min(count(args), Math.max(0, active - (target.minWorkers ?? 0)));
      const removed = wanted === 0 ? 0 : target.pool.removeWorkers(wanted);
      return { removed, ...sizeOf(target.pool) };
    },
  },
  workers: {
    argument: undefined,
    help: 'every worker: id, pid, generation, state, open connections, handoffs in flight',
    run(target) {
      return { workers: target.pool.stats().workers };
    },
  },
  stats: {
    argument: undefined,
    help: 'the pool and dispatcher counters, as JSON',
    run(target) {
      return {
        mode: target.mode,
        pool: target.pool.stats(),
        dispatchers: (target.dispatchers ?? []).map((d) => ({ address: d.address(), ...d.stats() })),
        listeners: (target.listeners ?? []).map((l) => ({ address: l.address(), ...l.stats() })),
        control: { refusedPeers: target.metrics.refusedPeers },
      };
    },
  },
  metrics: {
    argument: undefined,
    help: 'the metrics in the Prometheus text format (in "text")',
    run(target) {
      return { text: target.metrics.render() };
    },
  },
  upgrade: {
    argument: undefined,
    help: 'hand the listeners to a new master (where master takeover is available)',
    async run(target) {
      if (target.upgrade === undefined)
        throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', 'master takeover (upgrade) is not available in this build');
      return { upgraded: await target.upgrade() };
    },
  },
  help: {
    argument: undefined,
    help: 'the commands and what they do',
    run() {
      return {
        commands: Object.entries(COMMANDS).map(([name, command]) => ({
          command: command.argument === undefined ? name : `${name} ${command.argument}`,
          help: command.help,
        })),
      };
    },
  },
};

/** Runs one request line's words. Throws a PortunusError for an unknown command or a bad argument. */
export async function runCommand(target: ControlTarget, words: readonly string[]): Promise<unknown> {
  const [name = '', ...args] = words;
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    throw new PortunusError(
      'ERR_PORTUNUS_CONTROL_UNKNOWN_COMMAND',
      `unknown command ${JSON.stringify(name.slice(0, 64))} (try "help")`,
    );
  }
  const expected = command.argument === undefined ? 0 : 1;
  if (args.length !== expected) {
    throw new PortunusError(
      'ERR_PORTUNUS_CONTROL_BAD_ARGUMENT',
      expected === 0 ? `${name} takes no argument` : `usage: ${name} ${command.argument}`,
    );
  }
  return command.run(target, args);
}

function count(args: readonly string[]): number {
  const text = args[0]!;
  const value = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(value >= 1 && value <= MAX_COUNT)) {
    throw new PortunusError(
      'ERR_PORTUNUS_CONTROL_BAD_ARGUMENT',
      `N must be an integer from 1 to ${MAX_COUNT}, not ${JSON.stringify(text.slice(0, 32))}`,
    );
  }
  return value;
}

/** Workers of the serving generation (starting or ready), and min and max. */
function sizeOf(pool: WorkerPool): { workers: number; min: number; max: number } {
  const stats = pool.stats();
  const workers = stats.workers.filter(
    (w) => w.generation === stats.generation && (w.state === 'starting' || w.state === 'ready'),
  ).length;
  return { workers, min: stats.min, max: stats.max };
}
