/**
 * connectChannel(): opens a channel to a process listening with `listenChannel()` (or any peer speaking
 * docs/protocol.md) on a socket path or a Linux abstract name.
 * @module
 */
import net from 'node:net';
import { fdBackend } from '../binding/index.js';
import { PortunusError, invalidArgument } from '../errors.js';
import { openedChannel, type Channel, type ChannelOptions } from './channel.js';
import { channelFromFd } from './open.js';
import { peerPolicy, type PeerAllow } from './peer-policy.js';

export interface ConnectChannelOptions extends ChannelOptions {
  /** Which server processes to trust, by uid. Default: this process's own uid. */
  allow?: PeerAllow;
}

/**
 * Connects to `socketPath` ('\0name' for an abstract socket), checks the server's credentials and waits for
 * its hello. Resolves with a channel the caller owns (close it with `close()` or `destroy()`). Rejects with
 * the connect error (ENOENT, ECONNREFUSED…), ERR_PORTUNUS_PEER_REFUSED, or a handshake error.
 */
export async function connectChannel(socketPath: string, options: ConnectChannelOptions = {}): Promise<Channel> {
  if (typeof socketPath !== 'string' || socketPath.length === 0) throw invalidArgument('socketPath', 'a non-empty string', socketPath);
  const allowed = peerPolicy(options.allow);
  const fd = await connectedDescriptor(socketPath);
  let credentials;
  try {
    credentials = fdBackend.peerCredentials(fd);
  } catch (error) {
    fdBackend.close(fd);
    throw error;
  }
  if (!allowed(credentials)) {
    fdBackend.close(fd);
    throw new PortunusError('ERR_PORTUNUS_PEER_REFUSED', `server at ${JSON.stringify(socketPath)} runs as uid ${credentials.uid}, which is not allowed`, {
      credentials,
    });
  }
  // A server whose hello and end of stream came in one read gives a channel that closed before this
  // function could return it: that is a failed connection, not a channel.
  return openedChannel(channelFromFd(fd, options));
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
        resolve(fdBackend.dup(handleFd(socket)));
      } catch (error) {
        reject(error);
      } finally {
        // destroy() only closes Node's descriptor; the duplicate keeps the connection.
        socket.destroy();
      }
    });
  });
}

/** The descriptor under a connected net.Socket (Unix only). */
export function handleFd(socket: net.Socket | net.Server): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', 'this socket has no file descriptor');
  return fd;
}
