/**
 * The transport row of a net.Server: a listening TCP or Unix stream socket (kinds 'tcp-server' and
 * 'unix-server'), adopted as a net.Server that listens on the same socket, its accept queue kept.
 * @module
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { fdBackend, listenTarget, serverFd } from '../../binding/index.js';
import { PortunusError } from '../../errors.js';
import type { SocketFields } from './fields.js';
import {
  carriedAsNodeHandle,
  describedDescriptor,
  type Adoption,
  type PreparedTransport,
  type TransportRow,
} from './row.js';

/** A listening socket adopted from another process. The adopter owns `server`. */
export interface AdoptedServer extends Adoption, SocketFields {
  /** A TCP or a Unix stream listener. */
  kind: 'tcp-server' | 'unix-server';
  /**
   * Listening already, on the same socket as the sender's. A TCP listener keeps the accept queue limit the
   * sender gave it (read with TCP_INFO, on Linux); elsewhere, and for a Unix listener, Node's default backlog
   * (511) applies again when Node listens on the adopted descriptor.
   */
  server: net.Server;
}

const KINDS = {
  'tcp-server': { descriptor: { kind: 'tcp', listening: true }, nodeIpcClass: net.Server },
  'unix-server': { descriptor: { kind: 'unix-stream', listening: true }, nodeIpcClass: undefined },
} as const;

export const serverRow: TransportRow<net.Server, AdoptedServer> = {
  object: 'net.Server',
  kinds: KINDS,
  is: (transport): transport is net.Server => transport instanceof net.Server,
  prepare(server, backend) {
    if (!server.listening)
      throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', 'only a listening server can be handed off');
    const address = server.address();
    // Without a descriptor to ask (node-ipc), a server without an IP address is a Unix one: a Unix server
    // Node did not bind itself (listening on an adopted descriptor) has no address at all.
    const { kind, attachment, fields } =
      backend === 'unix'
        ? describedDescriptor(KINDS, serverFd(server), 'net.Server', 'a listening stream socket')
        : carriedAsNodeHandle(
            KINDS,
            typeof address === 'object' && address !== null ? 'tcp-server' : 'unix-server',
            server,
          );
    const release = typeof address === 'string' ? () => closeKeepingName(server, address) : () => server.close();
    return { kind, attachment, fields, buffered: undefined, restore() {}, release };
  },
  async adopt(attachment, envelope) {
    return {
      kind: envelope.kind,
      server: typeof attachment === 'number' ? await listenOnFd(attachment) : (attachment as net.Server),
    };
  },
  release: (adopted) => adopted.server.close(),
};

/**
 * A listening socket held as a raw descriptor, where the sending process keeps no Node object on it (a master
 * that shares its listener with its workers), ready to send. It is never closed by the handoff: the sender
 * keeps its copy (the listener outlives every worker) and closes it itself.
 */
export function sharedListener(fd: number): PreparedTransport {
  const { kind, attachment, fields } = describedDescriptor(KINDS, fd, 'descriptor', 'a listening stream socket');
  return { kind, attachment, fields, buffered: undefined, restore() {}, release() {} };
}

/**
 * @internal Stops a server whose listening socket another process now serves too from accepting: a Unix
 * listener this process bound keeps its socket file (see closeKeepingName). Only the listening handle
 * closes: net.Server's own close() is called, not an http.Server's, which would also close the idle
 * keep-alive connections at once (a client sending its next request on one that very moment would see it
 * reset); how to drain those is the application's choice. The socket itself, and the connections queued
 * on it, live on in the other process's copy.
 */
export function closeServerKeepingName(server: net.Server): void {
  const stopAccepting = () => net.Server.prototype.close.call(server);
  const address = server.address();
  if (typeof address === 'string' && address !== '') closeKeepingName(server, address, stopAccepting);
  else stopAccepting();
}

/**
 * Closes a handed-off Unix listener without taking its name along: libuv unlinks the socket file of a
 * server that bound it itself when that server closes, which would leave the adopter listening on a socket
 * nobody can reach by path. A second hard link keeps the file and is renamed back right after the close
 * (a client connecting within those microseconds gets ENOENT). Abstract names have no file.
 */
function closeKeepingName(server: net.Server, socketPath: string, close = () => server.close()): void {
  let spare: string | undefined;
  if (!socketPath.startsWith('\0')) {
    spare = `${socketPath}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      fs.linkSync(socketPath, spare);
    } catch {
      spare = undefined; // no name left to keep, or no right to link next to it: close as before
    }
  }
  close();
  if (spare === undefined) return;
  try {
    // A close that unlinked nothing (a libuv that does not) leaves the spare link to drop.
    if (fs.existsSync(socketPath)) fs.unlinkSync(spare);
    else fs.renameSync(spare, socketPath);
  } catch {
    // Nothing better to do; the adopter's listener works, only its name may be gone.
  }
}

function listenOnFd(fd: number): Promise<net.Server> {
  // Node calls listen() again on the descriptor, with 511 unless told otherwise: keep the accept queue the
  // socket already has (where the kernel says what it is), or an adopted listener would shrink it.
  let backlog: number | undefined;
  try {
    backlog = fdBackend.describeSocket(fd).backlog;
  } catch {
    // listen() will report what is wrong with this descriptor.
  }
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    const listening = () => {
      server.off('error', reject);
      resolve(server);
    };
    // With { fd }, Node takes the backlog from the argument after the options, not from the options.
    const target = listenTarget(fd);
    if (backlog === undefined) server.listen(target, listening);
    else server.listen(target, backlog, listening);
  });
}
