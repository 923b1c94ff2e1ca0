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
import { PortunusError, invalidArgument } from '../errors.js';
import { openedChannel, type Channel, type ChannelOptions } from './channel.js';
import { handleFd } from './connect.js';
import { channelFromFd } from './open.js';
import { peerPolicy, type PeerAllow } from './peer-policy.js';
import { ensurePrivateDirectory, isAbstractName, removeStaleSocket, restrictSocketFile } from './secure-path.js';

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
    const channel = channelFromFd(fd, options);
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
 * Listens for channels on `socketPath` (a filesystem path, or '\0name' for a Linux abstract socket).
 * A filesystem socket is created 0600 inside a 0700 directory owned by this user (created if missing); a
 * stale socket file left by a dead process is replaced. Resolves once listening.
 */
export async function listenChannel(socketPath: string, options: ListenChannelOptions = {}): Promise<ChannelServer> {
  if (typeof socketPath !== 'string' || socketPath.length === 0) throw invalidArgument('socketPath', 'a non-empty string', socketPath);
  const allowed = peerPolicy(options.allow);
  const abstract = isAbstractName(socketPath);
  if (!abstract) {
    await ensurePrivateDirectory(socketPath);
    await removeStaleSocket(socketPath);
  }
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path: socketPath }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  if (!abstract) {
    try {
      await restrictSocketFile(socketPath);
    } catch (error) {
      server.close();
      throw error;
    }
  }
  return new ChannelServer(server, socketPath, allowed, options);
}
