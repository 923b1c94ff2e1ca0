/**
 * connectChannel(): opens a channel to a process listening with `listenChannel()` (or any peer speaking
 * docs/protocol.md) on a socket path or a Linux abstract name.
 * @module
 */
import net from 'node:net';
import { fdBackend, socketFd, type PeerCredentials } from '../binding/index.js';
import { PortunusError, isSystemError, type SystemError } from '../errors.js';
import { validateOptions } from '../validate.js';
import { openedChannel, resolveChannelOptions, type Channel, type ChannelOptions } from './channel.js';
import { channelFromFd } from './open.js';
import { peerPolicy, pipeUsers, type PeerAllow } from './peer-policy.js';
import {
  addressOfPid,
  checkProcessAddress,
  checkServerPid,
  isProcessAddress,
  type ProcessAddress,
} from './process-address.js';
import { checkSocketAddress, type SocketAddress } from './socket-address.js';

export interface ConnectChannelOptions extends ChannelOptions {
  /** Which server processes to trust, by uid. Default: this process's own uid. */
  allow?: PeerAllow;
  /**
   * On a named pipe (Windows): the users, by SID, whose pipes are trusted besides this process's own user's;
   * a pipe owned by anyone else is refused (ERR_PORTUNUS_PEER_REFUSED). Ignored elsewhere.
   */
  users?: readonly string[];
}

/**
 * Connects to `socketPath` ('\0name' for a Linux abstract socket, connected with the name's exact length as
 * other programs bind it: docs/protocol.md §1), checks the server's credentials and waits for its hello.
 * Resolves with a channel the caller owns (close it with `close()` or `destroy()`).
 *
 * `{ pid }` instead of a path connects to the process with that pid, listening with
 * `listenChannel({ pid: 'self' })` (Windows: the named pipe `\\.\pipe\portunus-pid-<pid>`), and refuses
 * (ERR_PORTUNUS_PEER_REFUSED) a server the kernel does not name as that very process: someone squatting on
 * its name. Elsewhere it rejects with ERR_PORTUNUS_UNSUPPORTED.
 *
 * Throws synchronously (ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE) for an address that cannot work (see
 * `listenChannel()`) and for invalid options. Rejects with the connect error (ENOENT, ECONNREFUSED, EAGAIN
 * when the server's accept queue is full…), ERR_PORTUNUS_UNSUPPORTED (an abstract name off Linux),
 * ERR_PORTUNUS_PEER_REFUSED, or a handshake error.
 */
export function connectChannel(
  socketPath: string | ProcessAddress,
  options: ConnectChannelOptions = {},
): Promise<Channel> {
  const pid = isProcessAddress(socketPath) ? checkProcessAddress(socketPath, 'socketPath') : undefined;
  const address = pid === undefined ? checkSocketAddress(socketPath) : undefined;
  // Options first: `null` must be refused as options before `options.allow` is read.
  resolveChannelOptions(validateOptions(options));
  const allowed = peerPolicy(options.allow);
  const users = pipeUsers(options.users);
  if (address !== undefined) return connectTo(address, allowed, options, users);
  return connectToPid(pid!, allowed, options, users);
}

/** Connects to the address of `pid`; a platform without one rejects (ERR_PORTUNUS_UNSUPPORTED). */
async function connectToPid(
  pid: number,
  allowed: (credentials: PeerCredentials) => boolean,
  options: ChannelOptions,
  users: readonly string[],
): Promise<Channel> {
  return connectTo(checkSocketAddress(addressOfPid(pid)), allowed, options, users, pid);
}

async function connectTo(
  address: SocketAddress,
  allowed: (credentials: PeerCredentials) => boolean,
  options: ChannelOptions,
  users: readonly string[],
  serverPid?: number,
): Promise<Channel> {
  const fd = address.pipe
    ? connectNatively(address, () => fdBackend.pipes!.connect(address.path, users))
    : address.abstract
      ? connectNatively(address, () => fdBackend.connectAbstract(address.bytes))
      : await connectedDescriptor(address.path);
  let channel: Channel;
  try {
    const credentials = fdBackend.peerCredentials(fd);
    if (serverPid !== undefined) checkServerPid(serverPid, address.path, credentials);
    if (!allowed(credentials)) {
      throw new PortunusError(
        'ERR_PORTUNUS_PEER_REFUSED',
        `server at ${JSON.stringify(address.path)} runs as uid ${credentials.uid}, which is not allowed`,
        {
          credentials,
        },
      );
    }
    channel = channelFromFd(fd, options);
  } catch (error) {
    // Until the channel owns it, the descriptor is ours (a throwing `allow` predicate included).
    fdBackend.close(fd);
    throw error;
  }
  // A server whose hello and end of stream came in one read gives a channel that closed before this
  // function could return it: that is a failed connection, not a channel.
  return openedChannel(channel);
}

/**
 * Connects to an abstract name or a named pipe natively, which never waits: the connection is made at once
 * or fails at once (EAGAIN when the listener's accept queue is full, or every pipe instance is busy; there is
 * no event that says when it has room).
 */
function connectNatively(address: SocketAddress, connect: () => number): number {
  try {
    return connect();
  } catch (error) {
    if (isSystemError(error)) {
      // As Node reports a failed connect: with the address it was for.
      (error as SystemError & { address?: string }).address = address.path;
      error.message = `${error.syscall} ${error.code} ${JSON.stringify(address.path)}`;
      if (error.code === 'EAGAIN') error.message += ": the listener's accept queue is full; try again later";
    }
    throw error;
  }
}

/** Connects with Node's non-blocking connect and returns a CLOEXEC duplicate of the connected socket. */
function connectedDescriptor(socketPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ path: socketPath });
    // Nothing may be read by Node: every byte from the peer belongs to the channel.
    socket.pause();
    socket.once('error', reject);
    socket.once('connect', () => {
      try {
        resolve(fdBackend.dup(socketFd(socket)));
      } catch (error) {
        reject(error);
      } finally {
        // destroy() only closes Node's descriptor; the duplicate keeps the connection.
        socket.destroy();
      }
    });
  });
}
