/**
 * A SO_REUSEPORT group: N listening TCP sockets on one address and port, each with its own accept queue,
 * that the kernel spreads new connections over. Opened natively (Node 20's net cannot set SO_REUSEPORT
 * before bind), in order, so that member i is index i of the kernel's group (what steering addresses); or
 * adopted as they are from a predecessor that offered them by takeover, in the same order.
 * @module
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import { fdBackend } from '../binding/index.js';
import { invalidArgument } from '../errors.js';
import { validateInteger } from '../validate.js';

/** Node's default backlog for server.listen(). */
const DEFAULT_BACKLOG = 511;

/** The members of a group, in group order, and the address they share. */
export interface ReusePortGroup {
  /** Descriptors of the members, owned by the caller. */
  fds: number[];
  address: net.AddressInfo;
}

/**
 * Opens `count` members on the address of `listen` (host names are resolved first, as server.listen()
 * does; no host means '::', or '0.0.0.0' where IPv6 is missing). Port 0 picks a free port for the first
 * member and the others join it there. On failure every member opened so far is closed and the error
 * (EADDRINUSE…) rejects.
 */
export async function openReusePortGroup(listen: net.ListenOptions, count: number): Promise<ReusePortGroup> {
  const backlog = listen.backlog ?? DEFAULT_BACKLOG;
  const ipv6Only = listen.ipv6Only === true;
  const fds: number[] = [];
  try {
    let host = listen.host === undefined || listen.host === '' ? undefined : await numericAddress(listen.host);
    let port = listen.port ?? 0;
    for (let index = 0; index < count; index++) {
      if (host === undefined) {
        try {
          fds.push(fdBackend.listenReusePort('::', port, backlog, ipv6Only));
          host = '::';
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') throw error;
          host = '0.0.0.0';
          fds.push(fdBackend.listenReusePort(host, port, backlog, ipv6Only));
        }
      } else {
        fds.push(fdBackend.listenReusePort(host, port, backlog, ipv6Only));
      }
      port = fdBackend.describeSocket(fds[0]!).localPort ?? port;
    }
    const description = fdBackend.describeSocket(fds[0]!);
    return {
      fds,
      address: {
        address: description.localAddress!,
        family: description.family === 'IPv6' ? 'IPv6' : 'IPv4',
        port: description.localPort!,
      },
    };
  } catch (error) {
    for (const fd of fds) fdBackend.close(fd);
    throw error;
  }
}

/**
 * The first address of `host` (dns.lookup, as Node's listen does; its ENOTFOUND rejects as is), or `host`
 * itself when numeric.
 */
async function numericAddress(host: string): Promise<string> {
  return net.isIP(host) !== 0 ? host : (await dns.lookup(host)).address;
}

/** The members of a SO_REUSEPORT group that exists already (taken over from a predecessor), in group order. */
export interface ExistingReusePortGroup {
  /** The members' descriptors, in group order (as `TakenListeners.takeGroup()` returns them). */
  fds: readonly number[];
}

/** True for `listen: { fds }`, the members of an existing group. */
export function isExistingGroup(listen: unknown): listen is ExistingReusePortGroup {
  return typeof listen === 'object' && listen !== null && 'fds' in listen;
}

/**
 * Checks the members of an existing group: a non-empty array of descriptors of listening TCP sockets. Throws
 * ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE naming `options.listen.fds`.
 */
export function validateExistingGroup(listen: ExistingReusePortGroup): void {
  const { fds } = listen;
  if (!Array.isArray(fds) || fds.length === 0)
    throw invalidArgument('options.listen.fds', 'a non-empty array of listening descriptors', fds);
  fds.forEach((fd: unknown, index) => {
    validateInteger(fd, `options.listen.fds[${index}]`, 0, 2 ** 31 - 1);
    let kind;
    try {
      kind = fdBackend.socketKind(fd);
    } catch {
      kind = undefined;
    }
    if (kind?.kind !== 'tcp' || kind.listening !== true)
      throw invalidArgument(`options.listen.fds[${index}]`, 'the descriptor of a listening TCP socket', fd, 'value');
  });
}

/**
 * Adopts the members of an existing group: nothing is bound, so the group, its queues and the connections
 * in them are kept. The caller owns the descriptors from then on (as with `openReusePortGroup()`).
 */
export function adoptReusePortGroup(listen: ExistingReusePortGroup): ReusePortGroup {
  const fds = [...listen.fds];
  const description = fdBackend.describeSocket(fds[0]!);
  return {
    fds,
    address: {
      address: description.localAddress!,
      family: description.family === 'IPv6' ? 'IPv6' : 'IPv4',
      port: description.localPort!,
    },
  };
}
