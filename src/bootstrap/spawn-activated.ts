/**
 * spawnActivated(): the sending half of systemd's socket activation. Starts a program, in any language,
 * the way systemd starts a socket-activated service: its sockets at descriptors 3, 4, …, LISTEN_FDS saying how
 * many, LISTEN_FDNAMES their names, and LISTEN_PID the program's own pid.
 *
 * LISTEN_PID is the hard part: it must hold the child's pid, which nobody knows before fork, and Node's
 * spawn() sets the environment before it. The child is therefore started through `/bin/sh -c 'LISTEN_PID=$$;
 * export LISTEN_PID; exec "$0" "$@"' COMMAND ARGS…`: `$$` is the shell's pid, and exec replaces the shell's
 * program but keeps its pid, so the program finds its own pid in LISTEN_PID. A shell is on every system Node
 * runs on and costs one extra exec of a small program (a few milliseconds, see docs/bootstrap.md); a native
 * helper would save that with more code to build and ship. The descriptors are placed by spawn's stdio array, which dup2()s each into its slot after fork.
 * @module
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { dgramFd, serverFd, socketFd } from '../binding/index.js';
import { invalidArgument } from '../errors.js';
import {
  validateBoolean,
  validateFd,
  validateObject,
  validateOneOf,
  validateOptions,
  validateString,
} from '../validate.js';
import { LISTEN_ENV, UNNAMED } from './listen-fds.js';

/**
 * A socket to pass: a listening `server`, a bound UDP `dgram`, a connected `socket`, or any descriptor as
 * `fd`; with the name the program finds in LISTEN_FDNAMES (default `'unknown'`, as systemd's).
 */
export type ActivationListener = {
  /** Up to 255 printable ASCII characters, no `:` (systemd's rule for `FileDescriptorName=`). */
  name?: string;
} & (
  | {
      /** A listening net.Server. */
      server: net.Server;
    }
  | {
      /** A bound dgram.Socket. */
      dgram: dgram.Socket;
    }
  | {
      /** A connected net.Socket (what `Accept=yes` passes). */
      socket: net.Socket;
    }
  | {
      /** Any descriptor. */
      fd: number;
    }
);

/** Options of `spawnActivated()`. */
export interface SpawnActivatedOptions {
  /** The sockets, passed at descriptors 3, 4, … in this order. */
  listeners: readonly ActivationListener[];
  /** Environment added to this process's (LISTEN_* are set by spawnActivated and cannot be given here). */
  env?: Record<string, string | undefined>;
  /** Working directory. Default: this process's. */
  cwd?: string;
  /** The program's stdin, stdout and stderr, as spawn() takes them for all three. Default 'inherit'. */
  stdio?: 'inherit' | 'ignore' | 'pipe';
  /** Start it in a session and process group of its own (spawn()'s `detached`). Default false. */
  detached?: boolean;
}

/** The shim: exec keeps the shell's pid, `$$`, which is therefore the program's (see the top of this file). */
const EXEC_SHIM = `${LISTEN_ENV.pid}=$$; export ${LISTEN_ENV.pid}; exec "$0" "$@"`;

/** What a set of listeners is to the program: the descriptors, in order, and LISTEN_FDS and LISTEN_FDNAMES. */
export interface ActivationPlan {
  fds: number[];
  env: Record<string, string>;
}

/**
 * @internal Checks a listeners array and returns the descriptors (still owned by their objects) and the
 * LISTEN_FDS and LISTEN_FDNAMES to set. Throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE naming `name`.
 */
export function planActivation(listeners: unknown, name: string): ActivationPlan {
  if (!Array.isArray(listeners) || listeners.length === 0)
    throw invalidArgument(name, 'a non-empty array of listeners', listeners);
  const fds: number[] = [];
  const names: string[] = [];
  listeners.forEach((listener: unknown, index) => {
    const at = `${name}[${index}]`;
    validateObject(listener, at, 'an object with server, dgram, socket or fd');
    const entry = listener as Record<string, unknown>;
    const label = entry.name ?? UNNAMED;
    validateListenFdName(label, `${at}.name`);
    names.push(label);
    fds.push(descriptorOf(entry, at));
  });
  return { fds, env: { [LISTEN_ENV.fds]: String(fds.length), [LISTEN_ENV.names]: names.join(':') } };
}

/**
 * @internal A name for LISTEN_FDNAMES: 1 to 255 printable ASCII characters without ':' (systemd's rule for
 * `FileDescriptorName=`). Throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE naming `name`.
 */
export function validateListenFdName(value: unknown, name: string): asserts value is string {
  validateString(value, name, { nonEmpty: true });
  if (value.length > 255 || !/^[\x20-\x7e]+$/.test(value) || value.includes(':'))
    throw invalidArgument(name, "up to 255 printable ASCII characters without ':'", value, 'value');
}

function descriptorOf(entry: Record<string, unknown>, at: string): number {
  if (entry.server !== undefined) {
    if (!(entry.server instanceof net.Server) || !entry.server.listening)
      throw invalidArgument(`${at}.server`, 'a listening net.Server', entry.server);
    return serverFd(entry.server);
  }
  if (entry.dgram !== undefined) {
    if (!(entry.dgram instanceof dgram.Socket))
      throw invalidArgument(`${at}.dgram`, 'a bound dgram.Socket', entry.dgram);
    return dgramFd(entry.dgram);
  }
  if (entry.socket !== undefined) {
    if (!(entry.socket instanceof net.Socket)) throw invalidArgument(`${at}.socket`, 'a net.Socket', entry.socket);
    return socketFd(entry.socket);
  }
  if (entry.fd === undefined) throw invalidArgument(at, 'an object with server, dgram, socket or fd', entry);
  validateFd(entry.fd, `${at}.fd`);
  return entry.fd;
}

/**
 * @internal Spawns `command` with the planned descriptors at 3, 4, … and LISTEN_PID set to its own pid by the
 * exec shim. `stdio` holds the first three slots.
 */
export function spawnWithActivation(
  command: string,
  args: readonly string[],
  plan: ActivationPlan,
  options: { env?: Record<string, string | undefined>; cwd?: string; stdio: StdioOptions; detached?: boolean },
): ChildProcess {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env, ...plan.env };
  // Ours (or a stale one), never the child's: the shim sets the right one.
  delete env[LISTEN_ENV.pid];
  const stdio = [...(options.stdio as unknown[]), ...plan.fds] as StdioOptions;
  return spawn('/bin/sh', ['-c', EXEC_SHIM, command, ...args], {
    cwd: options.cwd,
    env,
    stdio,
    detached: options.detached,
  });
}

/**
 * Starts `command` with `args` the systemd way: each of `options.listeners` at descriptors 3, 4, …,
 * LISTEN_FDS and LISTEN_FDNAMES describing them, LISTEN_PID set to the program's own pid (through a
 * `/bin/sh` exec shim, so the ChildProcess's pid is the program's). Any program that supports socket
 * activation (sd_listen_fds(3), Python reading LISTEN_FDS, a Node one calling `listenFds()`) serves them.
 *
 * The program gets its own copies of the descriptors: the caller keeps its objects and closes them when it
 * wants, right after the spawn if it does not serve on them itself. The copies share the open socket with
 * the caller's, and with it the O_NONBLOCK flag: a program that makes a socket blocking makes it blocking
 * here too, which is harmless only where this process does not read or accept on it any more.
 *
 * A missing command is reported as an exit with code 127 (the shell's "not found", on the program's stderr),
 * not as an 'error' event. Arguments are checked synchronously (ERR_INVALID_ARG_TYPE / _VALUE).
 */
export function spawnActivated(command: string, args: readonly string[], options: SpawnActivatedOptions): ChildProcess {
  validateString(command, 'command', { nonEmpty: true });
  if (!Array.isArray(args) || !args.every((arg) => typeof arg === 'string'))
    throw invalidArgument('args', 'an array of strings', args);
  validateObject(options, 'options');
  const plan = planActivation(options.listeners, 'options.listeners');
  const { env, cwd, stdio = 'inherit', detached = false } = validateOptions(options);
  if (env !== undefined) validateObject(env, 'options.env');
  if (cwd !== undefined) validateString(cwd, 'options.cwd', { nonEmpty: true });
  validateOneOf(stdio, 'options.stdio', ['inherit', 'ignore', 'pipe']);
  validateBoolean(detached, 'options.detached');
  return spawnWithActivation(command, args, plan, { env, cwd, stdio: [stdio, stdio, stdio], detached });
}
