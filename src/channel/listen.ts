/**
 * listenChannel(): accepts channels on a socket path or a Linux abstract name. Every connecting process is
 * checked by its kernel-recorded credentials before a single byte is read from it, and a channel is
 * announced only once its hello has arrived, so probes and garbage never reach the application.
 * @module
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { EventEmitter } from 'eventemitter3';
import { fdBackend, socketFd, type NativeAcceptor, type PeerCredentials } from '../binding/index.js';
import { PortunusError, systemError } from '../errors.js';
import { validateOptions } from '../validate.js';
import { openedChannel, resolveChannelOptions, type Channel, type ChannelOptions } from './channel.js';
import { channelFromFd } from './open.js';
import { peerPolicy, pipeUsers, type PeerAllow } from './peer-policy.js';
import { ensurePrivateDirectory, isAbstractName, removeStaleSocket, restrictSocketFile } from './secure-path.js';
import { addressOfPid, checkOwnProcessAddress, isProcessAddress, type OwnProcessAddress } from './process-address.js';
import { checkSocketAddress, type SocketAddress } from './socket-address.js';

export interface ListenChannelOptions extends ChannelOptions {
  /** Which client processes may connect, by uid. Default: this process's own uid. */
  allow?: PeerAllow;
  /**
   * On a named pipe (Windows): the users, by SID, that the pipe's security descriptor admits besides this
   * process's own user. Nobody else can open the pipe. Ignored elsewhere.
   */
  users?: readonly string[];
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
  /**
   * The listening socket failed; or, on an abstract name, accepting failed for lack of descriptors or memory
   * (EMFILE, ENFILE, ENOBUFS, ENOMEM): the connection waits in the kernel's queue and the server tries again
   * after 100 ms. (On a socket path Node closes such a connection at once, without an event.)
   */
  error: [error: Error];
  /** The server stopped listening. */
  close: [];
}

/** Pause before accepting again after the native acceptor met EMFILE, ENFILE, ENOBUFS or ENOMEM. */
const ACCEPT_RETRY_MS = 100;

/**
 * Where a server's connections come from: Node's net.Server on a socket path, or, on an abstract name, the
 * native acceptor on a listening descriptor the server owns. Not net.Server for the latter: listening on a
 * descriptor goes through the cluster module, and in a cluster worker the primary would listen on its own
 * descriptor of that number instead.
 */
type ConnectionSource = { server: net.Server } | { fd: number; acceptor: NativeAcceptor };

/** A listening channel socket, as returned by `listenChannel()`: emits `'channel'` for each accepted peer. */
export class ChannelServer extends EventEmitter<ChannelServerEvents> {
  readonly #source: ConnectionSource;
  readonly #path: string;
  readonly #allowed: (credentials: PeerCredentials) => boolean;
  readonly #options: ChannelOptions;
  readonly #pending = new Set<Channel>();
  #closed = false;

  /**
   * @internal Use `listenChannel()`. `listener` is a listening net.Server, or a listening descriptor that
   * the server owns from then on (unless this constructor throws).
   */
  constructor(
    listener: net.Server | number,
    socketPath: string,
    allowed: (credentials: PeerCredentials) => boolean,
    options: ChannelOptions,
  ) {
    super();
    this.#path = socketPath;
    this.#allowed = allowed;
    this.#options = options;
    if (typeof listener === 'number') {
      const acceptor = fdBackend.createAcceptor(listener, (fds, status) => this.#onAccepted(fds, status));
      this.#source = { fd: listener, acceptor };
      acceptor.start();
    } else {
      this.#source = { server: listener };
      listener.on('connection', (socket) => this.#acceptSocket(socket));
      listener.on('error', (error) => this.emit('error', error));
    }
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
    const source = this.#source;
    if ('server' in source) {
      await new Promise<void>((resolve) => source.server.close(() => resolve()));
    } else {
      source.acceptor.close();
      fdBackend.close(source.fd);
    }
    if (!isAbstractName(this.#path) && fdBackend.pipes?.isPipeName(this.#path) !== true)
      await fs.unlink(this.#path).catch(() => {});
    this.emit('close');
  }

  /** Lets the process exit while the server listens. */
  unref(): this {
    if ('server' in this.#source) this.#source.server.unref();
    else this.#source.acceptor.unref();
    return this;
  }

  /** Keeps the process alive while the server listens (the default). */
  ref(): this {
    if ('server' in this.#source) this.#source.server.ref();
    else this.#source.acceptor.ref();
    return this;
  }

  /** A connection accepted by Node: checked on Node's descriptor, then continued on a duplicate of ours. */
  #acceptSocket(socket: net.Socket): void {
    let credentials: PeerCredentials | undefined;
    let fd: number;
    try {
      const nodeFd = socketFd(socket);
      credentials = fdBackend.peerCredentials(nodeFd);
      this.#check(credentials);
      fd = fdBackend.dup(nodeFd);
    } catch (error) {
      socket.destroy();
      this.emit('refused', { credentials, error: error as Error });
      return;
    }
    socket.destroy();
    this.#admit(fd, credentials);
  }

  #onAccepted(fds: Int32Array | undefined, status: number): void {
    if (fds !== undefined) for (const fd of fds) this.#acceptDescriptor(fd);
    if (status < 0 && !this.#closed && !('server' in this.#source)) {
      // Out of descriptors or memory: the connection waits in the kernel's queue, and the acceptor stopped
      // rather than spin on it. Reported (Node's server on a path instead accepts and closes such
      // connections, silently), and accepting resumes after a pause, as in the dispatcher.
      const { acceptor } = this.#source;
      this.emit('error', systemError(status, 'accept', getSystemErrorName(status)));
      setTimeout(() => {
        if (!this.#closed) acceptor.start();
      }, ACCEPT_RETRY_MS).unref();
    }
  }

  /** A connection accepted natively: the descriptor is ours from the start. */
  #acceptDescriptor(fd: number): void {
    let credentials: PeerCredentials | undefined;
    try {
      credentials = fdBackend.peerCredentials(fd);
      this.#check(credentials);
    } catch (error) {
      fdBackend.close(fd);
      this.emit('refused', { credentials, error: error as Error });
      return;
    }
    this.#admit(fd, credentials);
  }

  #check(credentials: PeerCredentials): void {
    if (!this.#allowed(credentials)) {
      throw new PortunusError(
        'ERR_PORTUNUS_PEER_REFUSED',
        `peer pid ${credentials.pid} uid ${credentials.uid} is not allowed`,
        { credentials },
      );
    }
  }

  /** Opens an allowed peer's descriptor (ours) as a channel and announces it once it said hello. */
  #admit(fd: number, credentials: PeerCredentials): void {
    if (this.#closed) {
      fdBackend.close(fd);
      return;
    }
    let channel: Channel;
    try {
      channel = channelFromFd(fd, this.#options);
    } catch (error) {
      // The descriptor stays ours when it is refused; nothing else would ever close it.
      fdBackend.close(fd);
      this.emit('clientError', error as Error, credentials);
      return;
    }
    this.#pending.add(channel);
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
        if (!this.#closed) this.emit('clientError', error, credentials);
      },
    );
  }
}

/** Accept queue of a channel socket: Node's default for `server.listen()`, also for abstract names. */
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
 *
 * `{ pid: 'self' }` instead of a path listens where `connectChannel({ pid: process.pid })` looks for this
 * process (Windows: the named pipe `\\.\pipe\portunus-pid-<pid>`, docs/windows.md); elsewhere it rejects
 * with ERR_PORTUNUS_UNSUPPORTED.
 */
export function listenChannel(
  socketPath: string | OwnProcessAddress,
  options: ListenChannelOptions = {},
): Promise<ChannelServer> {
  if (isProcessAddress(socketPath)) {
    const pid = checkOwnProcessAddress(socketPath, 'socketPath');
    // Options are checked synchronously, as for a path; a platform without pid addresses rejects.
    resolveChannelOptions(validateOptions(options));
    peerPolicy(options.allow);
    pipeUsers(options.users);
    return Promise.resolve().then(() => listenChannel(addressOfPid(pid), options));
  }
  const address = checkSocketAddress(socketPath);
  // Checked now rather than at the first connection, where a bad option could only be thrown at nobody;
  // options first, so that `null` is refused as options before `options.allow` is read.
  resolveChannelOptions(validateOptions(options));
  const allowed = peerPolicy(options.allow);
  const users = pipeUsers(options.users);
  if (address.pipe) return listenOnPipe(address, users, allowed, options);
  return address.abstract
    ? listenOnAbstractName(address, allowed, options)
    : listenOnPath(address.path, allowed, options);
}

async function listenOnPipe(
  address: SocketAddress,
  users: readonly string[],
  allowed: (credentials: PeerCredentials) => boolean,
  options: ChannelOptions,
): Promise<ChannelServer> {
  // The pipe's security descriptor admits this user and `users` only: the 0600 file of a socket path.
  const handle = fdBackend.pipes!.listen(address.path, users);
  try {
    return new ChannelServer(handle, address.path, allowed, options);
  } catch (error) {
    fdBackend.close(handle);
    throw error;
  }
}

async function listenOnPath(
  socketPath: string,
  allowed: (credentials: PeerCredentials) => boolean,
  options: ChannelOptions,
): Promise<ChannelServer> {
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

async function listenOnAbstractName(
  address: SocketAddress,
  allowed: (credentials: PeerCredentials) => boolean,
  options: ChannelOptions,
): Promise<ChannelServer> {
  // Bound here rather than by Node, which (before libuv 1.48, so on Node 20) pads the name with NUL bytes
  // to the whole of sun_path: an address no other program connects to.
  const fd = fdBackend.listenAbstract(address.bytes, BACKLOG);
  try {
    return new ChannelServer(fd, address.path, allowed, options);
  } catch (error) {
    fdBackend.close(fd);
    throw error;
  }
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
