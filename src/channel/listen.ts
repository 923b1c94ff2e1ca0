/**
 * listenChannel(): accepts channels on a socket path or a Linux abstract name. Every connecting process is
 * checked by its kernel-recorded credentials before a single byte is read from it, and a channel is
 * announced only once its hello has arrived, so probes and garbage never reach the application.
 * @module
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { fdBackend, type PeerCredentials } from '../binding/index.js';
import { PortunusError } from '../errors.js';
import { openedChannel, resolveChannelOptions, type Channel, type ChannelOptions } from './channel.js';
import { handleFd } from './connect.js';
import { channelFromFd } from './open.js';
import { peerPolicy, type PeerAllow } from './peer-policy.js';
import { ensurePrivateDirectory, isAbstractName, removeStaleSocket, restrictSocketFile } from './secure-path.js';
import { checkSocketAddress, type SocketAddress } from './socket-address.js';

export interface ListenChannelOptions extends ChannelOptions {
  /** Which client processes may connect, by uid. Default: this process's own uid. */
  allow?: PeerAllow;
}

/** A connection turned away, with who it was and why. */
export interface RefusedPeer {
  /** The peer's kernel-recorded credentials, undefined if they could not be read. */
  credentials: PeerCredentials | undefined;
  /** Why it was refused (ERR_PORTUNUS_PEER_REFUSED, or the error reading its credentials). */
  error: Error;
}

/** Events of a {@link ChannelServer}, with their listener arguments. */
export interface ChannelServerEvents {
  /** A peer passed the credential check and said hello. The listener owns the channel. */
  channel: [channel: Channel];
  /** A peer was refused by the credential check; its connection is closed. */
  refused: [refused: RefusedPeer];
  /**
   * An allowed peer failed the handshake (garbage, wrong version, silence), or its connection ended right
   * after its hello; its connection is closed and no channel is announced for it.
   */
  clientError: [error: Error, credentials: PeerCredentials];
  /** The listening socket failed. */
  error: [error: Error];
  /** The server stopped listening. */
  close: [];
}

/** A listening channel socket, as returned by `listenChannel()`: emits `'channel'` for each accepted peer. */
export class ChannelServer extends EventEmitter<ChannelServerEvents> {
  readonly #server: net.Server;
  readonly #path: string;
  readonly #pending = new Set<Channel>();
  #closed = false;

  /** @internal Use `listenChannel()`. */
  constructor(server: net.Server, socketPath: string, allowed: (credentials: PeerCredentials) => boolean, options: ChannelOptions) {
    super();
    this.#server = server;
    this.#path = socketPath;
    server.on('connection', (socket) => this.#accept(socket, allowed, options));
    server.on('error', (error) => this.emit('error', error));
  }

  /** The path or abstract name this server listens on. */
  get path(): string {
    return this.#path;
  }

  /**
   * Stops accepting and removes the socket file. Channels already handed out stay open (their owners close
   * them); connections still in their handshake are closed. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const channel of this.#pending) channel.destroy();
    this.#pending.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    if (!isAbstractName(this.#path)) await fs.unlink(this.#path).catch(() => {});
    this.emit('close');
  }

  /** Lets the process exit while the server listens. */
  unref(): this {
    this.#server.unref();
    return this;
  }

  /** Keeps the process alive while the server listens (the default). */
  ref(): this {
    this.#server.ref();
    return this;
  }

  #accept(socket: net.Socket, allowed: (credentials: PeerCredentials) => boolean, options: ChannelOptions): void {
    let credentials: PeerCredentials | undefined;
    let fd: number;
    try {
      const nodeFd = handleFd(socket);
      credentials = fdBackend.peerCredentials(nodeFd);
      if (!allowed(credentials)) {
        throw new PortunusError('ERR_PORTUNUS_PEER_REFUSED', `peer pid ${credentials.pid} uid ${credentials.uid} is not allowed`, { credentials });
      }
      fd = fdBackend.dup(nodeFd);
    } catch (error) {
      socket.destroy();
      this.emit('refused', { credentials, error: error as Error });
      return;
    }
    socket.destroy();
    if (this.#closed) {
      fdBackend.close(fd);
      return;
    }
    let channel: Channel;
    try {
      channel = channelFromFd(fd, options);
    } catch (error) {
      // The descriptor stays ours when it is refused; nothing else would ever close it.
      fdBackend.close(fd);
      this.emit('clientError', error as Error, credentials);
      return;
    }
    this.#pending.add(channel);
    const peer = credentials;
    // Announced only if still open once its hello is in: a peer whose hello and end of stream came in one
    // read would otherwise reach the application as a channel that had already closed, unseen.
    openedChannel(channel).then(
      () => {
        this.#pending.delete(channel);
        // close() ran meanwhile and destroyed it with the other handshakes in progress.
        if (!this.#closed) this.emit('channel', channel);
      },
      (error: Error) => {
        this.#pending.delete(channel);
        if (!this.#closed) this.emit('clientError', error, peer);
      },
    );
  }
}

/**
 * Accept queue of a channel socket, as Node's default for `server.listen()`: an abstract name is bound by
 * portunus and then listened on by Node, both with this length.
 */
const BACKLOG = 511;

/**
 * Listens for channels on `socketPath`: a filesystem path, or '\0name' for a Linux abstract socket, bound
 * with the name's exact length as other programs bind and connect it (docs/protocol.md §1).
 * A filesystem socket is created 0600 inside a 0700 directory owned by this user (created if missing); a
 * stale socket file left by a dead process is replaced. Resolves once listening.
 *
 * Throws synchronously (ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE) for an address that cannot work (empty,
 * a path longer than sockaddr_un's sun_path less its terminating NUL, 107 bytes on Linux, an abstract name
 * longer than sun_path) and for invalid options, before anything is created. Rejects with
 * ERR_PORTUNUS_INSECURE_PATH, ERR_PORTUNUS_UNSUPPORTED (an abstract name off Linux) or the OS error
 * (EADDRINUSE, EACCES, ENOENT for a directory that cannot be created, …).
 */
export function listenChannel(socketPath: string, options: ListenChannelOptions = {}): Promise<ChannelServer> {
  const address = checkSocketAddress(socketPath);
  const allowed = peerPolicy(options.allow);
  // Checked now rather than at the first connection, where a bad option could only be thrown at nobody.
  resolveChannelOptions(options);
  return address.abstract ? listenOnAbstractName(address, allowed, options) : listenOnPath(address.path, allowed, options);
}

async function listenOnPath(socketPath: string, allowed: (credentials: PeerCredentials) => boolean, options: ChannelOptions): Promise<ChannelServer> {
  await ensurePrivateDirectory(socketPath);
  await removeStaleSocket(socketPath);
  const server = net.createServer({ pauseOnConnect: true });
  await listening(server, () => server.listen({ path: socketPath, backlog: BACKLOG }));
  try {
    await restrictSocketFile(socketPath);
  } catch (error) {
    server.close();
    throw error;
  }
  return new ChannelServer(server, socketPath, allowed, options);
}

async function listenOnAbstractName(address: SocketAddress, allowed: (credentials: PeerCredentials) => boolean, options: ChannelOptions): Promise<ChannelServer> {
  // Bound here rather than by Node, which (before libuv 1.48, so on Node 20) pads the name with NUL bytes
  // to the whole of sun_path: an address no other program connects to.
  const fd = fdBackend.listenAbstract(address.bytes, BACKLOG);
  const server = net.createServer({ pauseOnConnect: true });
  // The descriptor is the server's from here on: Node closes it with the server, and when its own listen()
  // on it fails. (Opening its handle on a fresh listening Unix socket does not fail.)
  await listening(server, () => server.listen({ fd }, BACKLOG));
  return new ChannelServer(server, address.path, allowed, options);
}

/** Runs `listen` and resolves once `server` listens, or rejects with the error it reports. */
function listening(server: net.Server, listen: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve();
    });
    listen();
  });
}
