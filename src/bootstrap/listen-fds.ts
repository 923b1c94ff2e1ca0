/**
 * listenFds(): the receiving half of systemd's socket activation (sd_listen_fds(3)). The process that
 * started this one (systemd, systemd-socket-activate, spawnActivated(), an inherit-mode WorkerPool) put
 * LISTEN_FDS descriptors at 3, 4, … before exec, said how many in LISTEN_FDS, whom they are for in
 * LISTEN_PID and what they are called in LISTEN_FDNAMES. Each descriptor becomes the Node object the
 * kernel's description of it calls for, through the transport table (the same rows that adopt a socket
 * handed over on a channel), so there is one classifier in portunus, not two.
 * @module
 */
import fs from 'node:fs';
import { fdBackend } from '../binding/index.js';
import { PortunusError } from '../errors.js';
import { adoptHeldDescriptor, releaseAdopted, type HeldTransport } from '../transport/index.js';

/** The first descriptor systemd passes (SD_LISTEN_FDS_START): 0, 1 and 2 are stdin, stdout and stderr. */
export const LISTEN_FDS_START = 3;

/** The environment variables of socket activation, as sd_listen_fds(3) reads them. */
export const LISTEN_ENV = { fds: 'LISTEN_FDS', pid: 'LISTEN_PID', names: 'LISTEN_FDNAMES' } as const;

/** The name sd_listen_fds_with_names(3) gives every descriptor when LISTEN_FDNAMES is not set. */
export const UNNAMED = 'unknown';

/**
 * One socket passed by socket activation: its name, the descriptor number it arrived at, and the Node object
 * built on it, by kind: a listening TCP or Unix stream socket (`'tcp-server'`, `'unix-server'`) as `server`,
 * a connected one (`'tcp'`, `'unix'`, what `Accept=yes` passes) as `socket`, a UDP socket (`'udp'`) as
 * `dgram`; anything else (a Unix datagram or seqpacket socket, a FIFO, a netlink socket) stays a raw
 * descriptor (`'fd'`, `fd` only). The object owns the descriptor: close the object, or, for `'fd'`, the
 * descriptor (`closeFd()` from `portunus/fd`).
 */
export type ActivatedSocket = HeldTransport & {
  /** Its name from LISTEN_FDNAMES (`FileDescriptorName=`, `--fdname`), `'unknown'` when none was given. */
  name: string;
  /** The descriptor number it was passed at (3, 4, …). */
  fd: number;
};

/** Descriptors an earlier call took: they are owned by the objects it returned. */
let taken: { first: number; count: number } | undefined;

/**
 * The sockets this process was started with by socket activation, as Node objects, in descriptor order
 * (3, 4, …). Like `sd_listen_fds(1)`, it removes LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES from
 * `process.env` whatever it finds, so that programs this one starts do not take them for their own, and marks
 * each descriptor close-on-exec. The caller owns what it returns.
 *
 * Resolves with `[]` when the process was not socket-activated: LISTEN_FDS or LISTEN_PID is not set, or
 * LISTEN_PID names another process (the variables were meant for a parent that let them leak through exec;
 * the descriptors, if any, are not this process's to take and are left alone).
 *
 * Rejects with ERR_PORTUNUS_BAD_LISTEN_FDS when the variables are malformed (a count or pid that is not a
 * decimal integer, a LISTEN_FDNAMES with another number of names than LISTEN_FDS), ERR_PORTUNUS_LISTEN_FD_MISSING
 * when a descriptor of the range is not open, ERR_PORTUNUS_LISTEN_FD_IN_USE when one is already owned in this
 * process (an earlier call took it, or Node's IPC channel sits on it); in these cases nothing was taken and
 * every descriptor is left as it was. ERR_PORTUNUS_ADOPT_FAILED when Node cannot build its object on one:
 * then every descriptor of the range is closed, nothing else could use them any more.
 */
export async function listenFds(): Promise<ActivatedSocket[]> {
  const env = readActivationEnv();
  if (env === undefined) return [];
  const { count, names } = env;
  const first = LISTEN_FDS_START;
  checkNotInUse(first, count);
  for (let i = 0; i < count; i++) checkPassed(first + i, names[i]!);
  for (let i = 0; i < count; i++) fdBackend.setInheritable(first + i, false);
  taken = { first, count };
  const activated: ActivatedSocket[] = [];
  const built: HeldTransport[] = [];
  for (let i = 0; i < count; i++) {
    const fd = first + i;
    try {
      const adopted = await adoptHeldDescriptor(fd);
      built.push(adopted);
      activated.push({ ...adopted, name: names[i]!, fd });
    } catch (cause) {
      for (const object of built) releaseAdopted(object);
      for (let rest = i; rest < count; rest++) closeQuietly(first + rest);
      throw new PortunusError(
        'ERR_PORTUNUS_ADOPT_FAILED',
        `socket activation: could not build a Node object on descriptor ${fd} ('${names[i]}'): ${(cause as Error).message}`,
        { cause, fd, name: names[i] },
      );
    }
  }
  return activated;
}

/** The count and names the environment announces for this process; undefined when it announces nothing. */
function readActivationEnv(): { count: number; names: string[] } | undefined {
  const fds = process.env[LISTEN_ENV.fds];
  const pid = process.env[LISTEN_ENV.pid];
  const names = process.env[LISTEN_ENV.names];
  delete process.env[LISTEN_ENV.fds];
  delete process.env[LISTEN_ENV.pid];
  delete process.env[LISTEN_ENV.names];
  if (fds === undefined || pid === undefined) return undefined;
  if (decimal(pid) === undefined || decimal(pid) === 0) throw badEnv(`${LISTEN_ENV.pid} is ${JSON.stringify(pid)}`);
  // Meant for another process, which exec'd this one without removing them: not ours (sd_listen_fds does so too).
  if (decimal(pid) !== process.pid) return undefined;
  const count = decimal(fds);
  if (count === undefined) throw badEnv(`${LISTEN_ENV.fds} is ${JSON.stringify(fds)}`);
  if (count === 0) return undefined;
  if (names === undefined) return { count, names: Array.from({ length: count }, () => UNNAMED) };
  const split = names.split(':');
  if (split.length !== count) {
    throw badEnv(
      `${LISTEN_ENV.fds} is ${count} but ${LISTEN_ENV.names} has ${split.length} names (${JSON.stringify(names)})`,
    );
  }
  return { count, names: split };
}

/** A non-negative decimal integer without sign, spaces or leading zeros (as systemd writes it), else undefined. */
function decimal(value: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,9})$/.test(value)) return undefined;
  const number = Number(value);
  return number <= 2 ** 31 - 1 ? number : undefined;
}

function badEnv(detail: string): PortunusError {
  return new PortunusError('ERR_PORTUNUS_BAD_LISTEN_FDS', `socket activation: ${detail}`);
}

/** Throws ERR_PORTUNUS_LISTEN_FD_IN_USE when a descriptor of the range already has an owner in this process. */
function checkNotInUse(first: number, count: number): void {
  const owners: Array<[fd: number | undefined, owner: string]> = [
    [(process.channel as { fd?: number } | undefined)?.fd, "Node's IPC channel (process.channel)"],
  ];
  if (taken !== undefined) {
    for (let fd = taken.first; fd < taken.first + taken.count; fd++)
      owners.push([fd, 'the objects an earlier listenFds() returned']);
  }
  for (const [fd, owner] of owners) {
    if (fd !== undefined && fd >= first && fd < first + count) {
      throw new PortunusError(
        'ERR_PORTUNUS_LISTEN_FD_IN_USE',
        `socket activation: descriptor ${fd} is already owned by ${owner}`,
        { fd },
      );
    }
  }
}

/**
 * Throws ERR_PORTUNUS_LISTEN_FD_MISSING unless `fd` is open and can have been passed. When LISTEN_FDS
 * announces more descriptors than the parent passed, the numbers above the last one are not empty: Node
 * opens its own right after stdio (its epoll and eventfd descriptors, pipes), and those must not be taken.
 * An anonymous-inode descriptor (epoll, eventfd, signalfd, timerfd) is never a socket-activated one, so it
 * is refused by what /proc/self/fd says it is; a pipe of Node's own cannot be told from a passed one.
 * Node marks every inherited descriptor close-on-exec at startup (uv_disable_stdio_inheritance), so that flag
 * tells nothing either. Where /proc does not exist, only openness is checked.
 */
function checkPassed(fd: number, name: string): void {
  const missing = (detail: string, cause?: unknown) =>
    new PortunusError(
      'ERR_PORTUNUS_LISTEN_FD_MISSING',
      `socket activation: descriptor ${fd} ('${name}') ${detail}: LISTEN_FDS announces more descriptors than were passed`,
      { cause, fd, name },
    );
  let target: string;
  try {
    // procfs answers from memory: this cannot wait on anything.
    target = fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && fs.existsSync('/proc/self/fd'))
      throw missing('is not open', error);
    try {
      fdBackend.socketKind(fd);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'EBADF') throw missing('is not open', cause);
    }
    return;
  }
  if (target.startsWith('anon_inode:')) throw missing(`is the runtime's own (${target})`);
}

function closeQuietly(fd: number): void {
  try {
    fdBackend.close(fd);
  } catch {
    // Closed already by the object that failed to take it.
  }
}
