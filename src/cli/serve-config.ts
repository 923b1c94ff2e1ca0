/**
 * What `portunus serve` runs, from its command line and an optional `--config portunus.json`: every value
 * checked here, before anything starts, with an error that names the flag or the config key. Flags given
 * on the command line win over the file.
 * @module
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from './exit-codes.js';
import { parseHostPort, parseListenAddress, type ListenAddress } from './listen-address.js';
import { MODE_NAMES, type ModeName } from './modes.js';

/** Log output: 'text' (a status line on a terminal, plain lines otherwise) or 'json' (one object a line). */
export type LogFormat = 'text' | 'json';

export interface ServeConfig {
  listen: ListenAddress[];
  mode: ModeName;
  min: number | undefined;
  max: number | undefined;
  highWater: number | undefined;
  idleTimeoutMs: number | undefined;
  drainTimeoutMs: number;
  metrics: { host: string; port: number } | undefined;
  /** Control socket path; undefined for the default one. */
  socket: string | undefined;
  /** Uids allowed on the control socket besides this process's own. */
  allowUids: number[];
  logFormat: LogFormat;
  command: string[];
}

/** The config file's keys and the flag each one stands for. */
const KEYS = {
  listen: '--listen',
  mode: '--mode',
  min: '--min',
  max: '--max',
  highWater: '--high-water',
  idleTimeout: '--idle-timeout',
  drainTimeout: '--drain-timeout',
  metrics: '--metrics',
  socket: '--socket',
  allowUid: '--allow-uid',
  logFormat: '--log-format',
  command: '-- CMD ARGS…',
} as const;

export const SERVE_OPTIONS = {
  listen: { type: 'string', multiple: true },
  mode: { type: 'string' },
  min: { type: 'string' },
  max: { type: 'string' },
  'high-water': { type: 'string' },
  'idle-timeout': { type: 'string' },
  'drain-timeout': { type: 'string' },
  metrics: { type: 'string' },
  socket: { type: 'string' },
  'allow-uid': { type: 'string', multiple: true },
  'log-format': { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses `serve`'s arguments (after the word `serve`). Returns undefined when `--help` was asked for. */
export function parseServeArgs(argv: readonly string[]): ServeConfig | undefined {
  const split = argv.indexOf('--');
  const flags = split === -1 ? argv : argv.slice(0, split);
  const command = split === -1 ? undefined : argv.slice(split + 1);
  let values;
  try {
    ({ values } = parseArgs({ args: [...flags], options: SERVE_OPTIONS, allowPositionals: false, strict: true }));
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  if (values.help === true) return undefined;
  const file = values.config === undefined ? {} : readConfigFile(values.config);
  const from = <K extends keyof typeof KEYS>(key: K, flag: string | string[] | undefined) =>
    flag !== undefined
      ? { value: flag as unknown, where: KEYS[key] }
      : { value: file[key], where: `${values.config}: "${key}"` };

  const listenGiven = from('listen', values.listen);
  const listenList = listenGiven.value === undefined ? [] : listenGiven.value;
  if (!Array.isArray(listenList) && typeof listenList !== 'string')
    throw new UsageError(`${listenGiven.where} must be an address or a list of addresses`);
  const listen = (typeof listenList === 'string' ? [listenList] : listenList).map((text: unknown) => {
    if (typeof text !== 'string')
      throw new UsageError(`${listenGiven.where} must hold strings, not ${JSON.stringify(text)}`);
    return parseListenAddress(text, listenGiven.where);
  });
  if (listen.length === 0)
    throw new UsageError('--listen is required (tcp://127.0.0.1:8080), on the command line or in the config file');

  const modeGiven = from('mode', values.mode);
  const mode = modeGiven.value ?? 'dispatch';
  if (typeof mode !== 'string' || !(MODE_NAMES as readonly string[]).includes(mode))
    throw new UsageError(`${modeGiven.where} must be one of ${MODE_NAMES.join(', ')}, not ${JSON.stringify(mode)}`);

  const cmdGiven =
    command !== undefined
      ? { value: command, where: KEYS.command }
      : { value: file.command, where: `${values.config}: "command"` };
  const cmd = cmdGiven.value;
  if (cmd === undefined || (Array.isArray(cmd) && cmd.length === 0))
    throw new UsageError(
      'no worker command: put it after --, as in: portunus serve --listen tcp://127.0.0.1:8080 -- node app.js',
    );
  if (!Array.isArray(cmd) || !cmd.every((word) => typeof word === 'string') || cmd[0] === '')
    throw new UsageError(`${cmdGiven.where} must be a non-empty list of strings (the program, then its arguments)`);

  const metricsGiven = from('metrics', values.metrics);
  const socketGiven = from('socket', values.socket);
  if (socketGiven.value !== undefined && (typeof socketGiven.value !== 'string' || socketGiven.value === ''))
    throw new UsageError(`${socketGiven.where} must be a path`);
  const logGiven = from('logFormat', values['log-format']);
  const logFormat = logGiven.value ?? 'text';
  if (logFormat !== 'text' && logFormat !== 'json')
    throw new UsageError(`${logGiven.where} must be text or json, not ${JSON.stringify(logFormat)}`);

  const allowGiven = from('allowUid', values['allow-uid']);
  const allowList =
    allowGiven.value === undefined ? [] : Array.isArray(allowGiven.value) ? allowGiven.value : [allowGiven.value];
  const allowUids = allowList.map((uid: unknown) => integer(uid, allowGiven.where, 0, 2 ** 32 - 2));

  const seconds = (key: 'idleTimeout' | 'drainTimeout', flag: string | undefined) => {
    const given = from(key, flag);
    return given.value === undefined
      ? undefined
      : Math.round(number(given.value, given.where, 0.001, 2 ** 31 / 1000 - 1) * 1000);
  };
  const count = (key: 'min' | 'max' | 'highWater', flag: string | undefined, minimum: number) => {
    const given = from(key, flag);
    return given.value === undefined ? undefined : integer(given.value, given.where, minimum, 100_000);
  };
  const min = count('min', values.min, 0);
  const max = count('max', values.max, 1);
  if (min !== undefined && max !== undefined && min > max)
    throw new UsageError(`--min (${min}) is above --max (${max})`);
  return {
    listen,
    mode: mode as ModeName,
    min,
    max,
    highWater: count('highWater', values['high-water'], 1),
    idleTimeoutMs: seconds('idleTimeout', values['idle-timeout']),
    drainTimeoutMs: seconds('drainTimeout', values['drain-timeout']) ?? 30_000,
    metrics:
      metricsGiven.value === undefined
        ? undefined
        : typeof metricsGiven.value === 'string'
          ? parseHostPort(metricsGiven.value, metricsGiven.where)
          : (() => {
              throw new UsageError(`${metricsGiven.where} must be HOST:PORT`);
            })(),
    socket: socketGiven.value as string | undefined,
    allowUids,
    logFormat,
    command: cmd,
  };
}

/** Reads and checks the config file: a JSON object with known keys only. */
function readConfigFile(file: string): Partial<Record<keyof typeof KEYS, unknown>> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--config: cannot read ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file}: not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UsageError(`${file}: must hold a JSON object`);
  for (const key of Object.keys(parsed)) {
    if (!Object.hasOwn(KEYS, key))
      throw new UsageError(`${file}: unknown key "${key}" (known: ${Object.keys(KEYS).join(', ')})`);
  }
  return parsed as Partial<Record<keyof typeof KEYS, unknown>>;
}

/** A number from a flag (a string) or a config key (a number), from `min` to `max`. */
function number(value: unknown, where: string, min: number, max: number): number {
  const parsed =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^[0-9]+(\.[0-9]+)?$/.test(value)
        ? Number(value)
        : NaN;
  if (!(parsed >= min && parsed <= max))
    throw new UsageError(`${where} must be a number from ${min} to ${max}, not ${JSON.stringify(value)}`);
  return parsed;
}

function integer(value: unknown, where: string, min: number, max: number): number {
  const parsed = number(value, where, min, max);
  if (!Number.isInteger(parsed)) throw new UsageError(`${where} must be a whole number, not ${JSON.stringify(value)}`);
  return parsed;
}
