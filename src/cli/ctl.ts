/**
 * `portunus ctl`: one command to a running master over its control socket, its answer printed for a person
 * (or as JSON with --json), and an exit code a script can act on.
 * @module
 */
import { parseArgs } from 'node:util';
import { defaultControlPath, requestControl } from '../control/index.js';
import type { PoolStats } from '../pool/index.js';
import { ExitCode, UsageError } from './exit-codes.js';

export const CTL_OPTIONS = {
  socket: { type: 'string' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The commands ctl knows and whether each takes N. */
const COMMANDS: Readonly<Record<string, boolean>> = {
  'restart-workers': false,
  'spawn-workers': true,
  'remove-workers': true,
  workers: false,
  stats: false,
  metrics: false,
  upgrade: false,
};

/** Parses ctl's arguments; undefined for --help. */
export function parseCtlArgs(
  argv: readonly string[],
): { socket: string; json: boolean; timeoutMs: number; command: string; args: string[] } | undefined {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: CTL_OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const { values, positionals } = parsed;
  if (values.help === true) return undefined;
  const [command, ...args] = positionals;
  if (command === undefined) throw new UsageError(`no command: one of ${Object.keys(COMMANDS).join(', ')}`);
  if (!Object.hasOwn(COMMANDS, command))
    throw new UsageError(`unknown command ${JSON.stringify(command)}: one of ${Object.keys(COMMANDS).join(', ')}`);
  if (COMMANDS[command] && (args.length !== 1 || !/^[1-9][0-9]*$/.test(args[0]!)))
    throw new UsageError(`${command} takes one whole number N >= 1 (${command} 2)`);
  if (!COMMANDS[command] && args.length > 0) throw new UsageError(`${command} takes no argument`);
  const seconds = values.timeout === undefined ? 60 : Number(values.timeout);
  if (!(seconds > 0 && seconds <= 2_000_000))
    throw new UsageError(`--timeout must be a number of seconds > 0, not ${values.timeout}`);
  return {
    socket: values.socket ?? defaultControlPath(),
    json: values.json === true,
    timeoutMs: Math.round(seconds * 1000),
    command,
    args,
  };
}

/** Runs ctl; resolves with its exit code. */
export async function ctl(argv: readonly string[], out = process.stdout, err = process.stderr): Promise<number> {
  const options = parseCtlArgs(argv);
  if (options === undefined) return ExitCode.OK;
  let response;
  try {
    response = await requestControl(options.socket, [options.command, ...options.args].join(' '), {
      timeoutMs: options.timeoutMs,
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    const hint =
      code === 'ENOENT' || code === 'ECONNREFUSED'
        ? " (is `portunus serve` running? --socket names another master's socket)"
        : code === 'EACCES'
          ? ' (the socket belongs to another user)'
          : '';
    err.write(`portunus ctl: cannot reach ${options.socket}: ${(error as Error).message}${hint}\n`);
    return ExitCode.UNREACHABLE;
  }
  if (!response.ok) {
    err.write(`portunus ctl: ${options.command}: ${response.error.message} (${response.error.code})\n`);
    return response.error.code === 'ERR_PORTUNUS_PEER_REFUSED' ? ExitCode.UNREACHABLE : ExitCode.FAILED;
  }
  out.write(render(options.command, response.result, options.json));
  return ExitCode.OK;
}

/** The answer for a person, or as JSON. */
function render(command: string, result: unknown, json: boolean): string {
  if (command === 'metrics' && !json) return (result as { text: string }).text;
  if (json) return `${JSON.stringify(result, null, 2)}\n`;
  const r = result as Record<string, unknown>;
  switch (command) {
    case 'restart-workers':
      return `restarted: generation ${r.generation} serves\n`;
    case 'spawn-workers':
      return `started ${r.started} worker(s): ${r.workers} running (min ${r.min}, max ${r.max})\n`;
    case 'remove-workers':
      return `draining ${r.removed} worker(s): ${r.workers} left (min ${r.min}, max ${r.max})\n`;
    case 'workers':
      return workerTable(r.workers as PoolStats['workers']);
    case 'stats': {
      const pool = r.pool as PoolStats;
      const lines = [
        `mode ${r.mode}, generation ${pool.generation}, min ${pool.min}, max ${pool.max}`,
        `workers: ${pool.spawned} spawned, ${pool.exited} exited (${pool.crashed} crashed), ${pool.restarts} restarts`,
      ];
      for (const d of r.dispatchers as Array<Record<string, unknown> & { address: { address: string; port: number } }>)
        lines.push(
          `${d.address.address}:${d.address.port}: ${d.accepted} accepted, ${d.handedOff} handed off, ${d.inFlight} in flight, ${d.pending} waiting, ${d.redispatched} re-dispatched, ${d.dropped} dropped`,
        );
      for (const l of r.listeners as Array<Record<string, unknown> & { address: { address: string; port: number } }>)
        lines.push(`${l.address.address}:${l.address.port}: shared with ${l.workers} worker(s)`);
      lines.push(workerTable(pool.workers).trimEnd());
      return `${lines.join('\n')}\n`;
    }
    default:
      return `${JSON.stringify(result)}\n`;
  }
}

function workerTable(workers: PoolStats['workers']): string {
  const rows = [['ID', 'PID', 'GEN', 'STATE', 'OPEN', 'IN FLIGHT']];
  for (const w of workers) rows.push([w.id, w.pid ?? '-', w.generation, w.state, w.load, w.inFlight].map(String));
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return `${rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}
