/**
 * The listening socket a dispatcher accepts on. It is bound by Node (so options, IPv6 and errors behave as
 * with `server.listen()`), then the dispatcher keeps a duplicate of its descriptor and Node's object is
 * closed, so only the dispatcher's native acceptor takes connections from it.
 * @module
 */
import net from 'node:net';
import { fdBackend, serverFd } from '../binding/index.js';
import { checkSocketAddress } from '../channel/index.js';
import { PortunusError, invalidArgument } from '../errors.js';
import { closeServerKeepingName } from '../transport/index.js';
import { validateInteger, validateObject } from '../validate.js';
import { ServiceSocketFile, applyDefaultMode, prepareSocketPath } from './service-socket-file.js';
import type { WorkerSet } from './worker-set.js';

export interface ListeningSocket {
  /** The dispatcher's own descriptor of the listening socket. */
  fd: number;
  /** A TCP address, or the path (or abstract name) of a Unix stream listener, as `net.Server.address()`. */
  address: net.AddressInfo | string;
  /** The socket file the master unlinks at close: one it bound, or took from a server that bound it. */
  socketFile: ServiceSocketFile | undefined;
}

/**
 * Checks the dispatcher's `listen` option: TCP listen options, Unix listen options (`{ path }`), or a
 * listening net.Server (TCP or Unix stream). Throws ERR_INVALID_ARG_TYPE naming `options.listen` for anything
 * else (a missing option included), `options.listen.port` for a port that is not an integer from 0 to 65535,
 * `options.listen.path` for a path that is not a string fitting in sun_path (ERR_INVALID_ARG_VALUE), and
 * ERR_INVALID_ARG_VALUE naming `options.listen.port` for a port beside a path. The other listen options (host, ipv6Only…) are checked
 * by Node's own `server.listen()`, which openListeningSocket calls synchronously.
 */
export function validateListenOption(listen: unknown): asserts listen is net.ListenOptions | net.Server {
  if (listen instanceof net.Server) {
    if (!listen.listening)
      throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', 'the server given to acceptAndDispatch must be listening');
    return;
  }
  validateObject(listen, 'options.listen', 'listen options ({ host, port } or { path }) or a listening net.Server');
  const { path, port } = listen as net.ListenOptions;
  if (path !== undefined) {
    checkSocketAddress(path, 'options.listen.path');
    if (port !== undefined)
      throw invalidArgument(
        'options.listen.port',
        'undefined beside a path (a Unix listener has no port)',
        port,
        'value',
      );
    return;
  }
  // Checked here rather than left to server.listen(), whose errors would name `options` and `options.port`.
  // Left out, Node picks a free port, as with port 0.
  if (port !== undefined) validateInteger(port, 'options.listen.port', 0, 65535);
}

/**
 * Opens (or takes over) a TCP or Unix stream listening socket. A given net.Server must be listening; it is
 * closed after its descriptor was duplicated (the socket itself keeps listening, and its backlog is kept;
 * a socket file it bound keeps its name and becomes the master's to unlink). A `path` gets its directory
 * (0700 when created), loses a stale socket file left by a dead process, and is made 0600 once bound unless
 * `readableAll`/`writableAll` were given. Argument errors, Node's own included (ERR_SOCKET_BAD_PORT…), are
 * thrown synchronously; failing to bind (EADDRINUSE…) rejects.
 */
export function openListeningSocket(listen: net.ListenOptions | net.Server): Promise<ListeningSocket> {
  validateListenOption(listen);
  // From here on failures reject (inside a promise callback): they are the system's, not the caller's.
  if (listen instanceof net.Server) return Promise.resolve(listen).then((server) => takeListeningSocket(server, true));
  if (listen.path !== undefined) return openUnixListener(listen, listen.path);
  const server = net.createServer();
  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Outside the promise, so that Node's checks of the options throw to the caller; the server is not
  // bound yet when they throw, and nothing else holds it.
  server.listen(listen);
  return listening.then(() => takeListeningSocket(server, false));
}

/** Binds a Unix stream listener at `socketPath` for the master, which unlinks it when it closes. */
async function openUnixListener(listen: net.ListenOptions, socketPath: string): Promise<ListeningSocket> {
  await prepareSocketPath(socketPath);
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen, () => {
      server.off('error', reject);
      resolve();
    });
  });
  let socketFile: ServiceSocketFile | undefined;
  try {
    await applyDefaultMode(socketPath, listen);
    socketFile = await ServiceSocketFile.of(socketPath);
  } catch (error) {
    server.close(); // unlinks the file it bound
    throw error;
  }
  try {
    const taken = await takeListeningSocket(server, false);
    return { ...taken, socketFile };
  } catch (error) {
    await socketFile?.remove();
    throw error;
  }
}

/**
 * Duplicates the descriptor of a listening server for the dispatcher and closes Node's object. A Unix
 * server keeps its socket file through that close; when `adopt` is set and Node bound the file itself (so
 * would have unlinked it when closing), the file becomes the master's to unlink. A server listening on a
 * descriptor it was given (`{ fd }`, systemd) leaves the file to whoever made it.
 */
async function takeListeningSocket(server: net.Server, adopt: boolean): Promise<ListeningSocket> {
  // Node knows no address for a Unix server listening on a descriptor it was given ({ fd }): ask the kernel.
  const address = server.address() ?? unixPathOf(serverFd(server));
  if (address === null) {
    server.close();
    throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', 'acceptAndDispatch needs a listening stream socket');
  }
  // Node's object is closed whether or not the duplicate could be made: nothing else will close it.
  let fd: number;
  try {
    fd = fdBackend.dup(serverFd(server));
  } finally {
    closeServerKeepingName(server);
  }
  const boundByNode = typeof (server as unknown as { _pipeName?: unknown })._pipeName === 'string';
  try {
    const socketFile =
      adopt && typeof address === 'string' && boundByNode ? await ServiceSocketFile.of(address) : undefined;
    return { fd, address, socketFile };
  } catch (error) {
    fdBackend.close(fd);
    throw error;
  }
}

/** The path (or abstract name) a Unix stream listener is bound to; null for anything else. */
function unixPathOf(fd: number): string | null {
  const { family, type, localPath } = fdBackend.describeSocket(fd);
  return family === 'unix' && type === 'stream' ? (localPath ?? '') : null;
}

/**
 * Opens the listening socket, then (after `beforeStart`, given its descriptor) starts the worker sets, and
 * resolves with the socket once all are started.
 * Listening comes first: a port that cannot be had must not leave workers running, and connections that
 * arrive while the sets start wait in the backlog. If a set fails to start, the socket is closed and the sets
 * are closed too (nothing will use them: no worker or respawn loop is left behind), and the error is thrown.
 */
export async function listenThenStart(
  listen: net.ListenOptions | net.Server,
  sets: readonly WorkerSet[],
  beforeStart?: (fd: number) => void,
): Promise<ListeningSocket> {
  const socket = await openListeningSocket(listen);
  try {
    beforeStart?.(socket.fd);
    await Promise.all(sets.map((set) => set.start()));
  } catch (error) {
    fdBackend.close(socket.fd);
    await socket.socketFile?.remove();
    await Promise.all(sets.map((set) => set.close?.()));
    throw error;
  }
  return socket;
}
