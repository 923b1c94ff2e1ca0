/**
 * Channels addressed by process id, the numeric bootstrap: `listenChannel({ pid: 'self' })` listens on the
 * address the backend derives from this process's pid, and `connectChannel({ pid })` connects to the address
 * of that pid and then checks that the kernel names that very process as the server. Anyone may create an
 * address derived from somebody else's pid before its owner does (a squatter); the kernel's record of the
 * server's pid, never the name, is what says who answered.
 * @module
 */
import { fdBackend, type PeerCredentials } from '../binding/index.js';
import { PortunusError, invalidArgument } from '../errors.js';
import { validateInteger, validateObject } from '../validate.js';

/** The address of a channel listener by the pid of its process, for `connectChannel()`. */
export interface ProcessAddress {
  /** The process to connect to. */
  pid: number;
}

/** This process's own pid as a channel address, for `listenChannel()`. */
export interface OwnProcessAddress {
  /** Only `'self'`: a process listens on its own pid's address, never on another's. */
  pid: 'self';
}

/** Largest pid accepted: Windows pids and Linux's pid_max both fit in 32 bits. */
const MAX_PID = 2 ** 32 - 1;

/** True when `target` is an address by pid rather than a socket path or pipe name (checked later). */
export function isProcessAddress(target: unknown): target is object {
  return typeof target === 'object' && target !== null;
}

/** Checks `{ pid }` for `connectChannel()`: a positive integer. Throws ERR_INVALID_ARG_TYPE/VALUE. */
export function checkProcessAddress(target: object, name: string): number {
  validateObject(target, name);
  const { pid } = target as { pid?: unknown };
  validateInteger(pid, `${name}.pid`, 1, MAX_PID);
  return pid;
}

/** Checks `{ pid: 'self' }` for `listenChannel()`; returns this process's pid. */
export function checkOwnProcessAddress(target: object, name: string): number {
  validateObject(target, name);
  const { pid } = target as { pid?: unknown };
  if (pid !== 'self') throw invalidArgument(`${name}.pid`, "'self'", pid, typeof pid === 'string' ? 'value' : 'type');
  return process.pid;
}

/**
 * The address a process with this pid listens on. Throws ERR_PORTUNUS_UNSUPPORTED where the backend has no
 * such convention (only the windows backend has one: named pipes, docs/windows.md).
 */
export function addressOfPid(pid: number): string {
  const pipes = fdBackend.pipes;
  if (pipes === undefined) {
    throw new PortunusError(
      'ERR_PORTUNUS_UNSUPPORTED',
      `channels addressed by process id need named pipes (Windows); the ${fdBackend.name} backend has none`,
      { platform: process.platform },
    );
  }
  return pipes.nameForPid(pid);
}

/** Refuses a server that is not the process the address was derived from: a squatter on its name. */
export function checkServerPid(pid: number, address: string, credentials: PeerCredentials): void {
  if (credentials.pid === pid) return;
  throw new PortunusError(
    'ERR_PORTUNUS_PEER_REFUSED',
    `${JSON.stringify(address)} is served by pid ${credentials.pid}, not by pid ${pid} whose address it is`,
    { credentials },
  );
}
