/**
 * A SO_REUSEPORT group: N listening TCP sockets on one address and port, each with its own accept queue,
 * that the kernel spreads new connections over. Opened natively (Node 20's net cannot set SO_REUSEPORT
 * before bind), in order, so that member i is index i of the kernel's group (what steering addresses).
 * @module
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import { fdBackend } from '../binding/index.js';

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
