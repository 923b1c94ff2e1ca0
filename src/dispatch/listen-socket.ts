/**
 * The listening socket a dispatcher accepts on. It is bound by Node (so options, IPv6 and errors behave as
 * with `server.listen()`), then the dispatcher keeps a duplicate of its descriptor and Node's object is
 * closed, so only the dispatcher's native acceptor takes connections from it.
 * @module
 */
import net from 'node:net';
import { fdBackend, serverFd } from '../binding/index.js';
import { PortunusError } from '../errors.js';
import { validateInteger, validateObject } from '../validate.js';
import type { WorkerSet } from './worker-set.js';

export interface ListeningSocket {
  /** The dispatcher's own descriptor of the listening socket. */
  fd: number;
  address: net.AddressInfo;
}

/**
 * Checks the dispatcher's `listen` option: TCP listen options or a listening net.Server. Throws
 * ERR_INVALID_ARG_TYPE naming `options.listen` for anything else (a missing option included) and
 * `options.listen.port` for a port that is missing or not an integer from 0 to 65535,
 * ERR_PORTUNUS_UNSUPPORTED for a Unix path or a server that does not listen on TCP. The other listen options
 * (host, ipv6Only…) are checked by Node's own `server.listen()`, which openListeningSocket calls synchronously.
 */
export function validateListenOption(listen: unknown): asserts listen is net.ListenOptions | net.Server {
  if (listen instanceof net.Server) {
    if (!listen.listening)
      throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', 'the server given to acceptAndDispatch must be listening');
    if (typeof listen.address() !== 'object') throw notTcp();
    return;
  }
  validateObject(listen, 'options.listen', 'TCP listen options ({ host, port }) or a listening net.Server');
  const { path, port } = listen as net.ListenOptions;
  if (path !== undefined) {
    throw new PortunusError(
      'ERR_PORTUNUS_UNSUPPORTED',
      'acceptAndDispatch listens on TCP; Unix socket paths are not supported by the dispatcher yet',
    );
  }
  // Checked here rather than left to server.listen(), whose errors would name `options` and `options.port`.
  // Left out, Node picks a free port, as with port 0.
  if (port !== undefined) validateInteger(port, 'options.listen.port', 0, 65535);
}

/**
 * Opens (or takes over) a TCP listening socket. A given net.Server must be listening on TCP; it is closed
 * after its descriptor was duplicated (the socket itself keeps listening, and its backlog is kept).
 * Argument errors, Node's own included (ERR_SOCKET_BAD_PORT…), are thrown synchronously; failing to bind
 * (EADDRINUSE…) rejects.
 */
export function openListeningSocket(listen: net.ListenOptions | net.Server): Promise<ListeningSocket> {
  validateListenOption(listen);
  // From here on failures reject (inside a promise callback): they are the system's, not the caller's.
  if (listen instanceof net.Server) return Promise.resolve(listen).then(takeListeningSocket);
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
  return listening.then(() => takeListeningSocket(server));
}

/** Duplicates the descriptor of a listening server for the dispatcher and closes Node's object. */
function takeListeningSocket(server: net.Server): ListeningSocket {
  const address = server.address();
  if (address === null || typeof address === 'string') {
    // Listen options can name a descriptor ({ fd }) that turns out to be a Unix socket.
    server.close();
    throw notTcp();
  }
  // Node's object is closed whether or not the duplicate could be made: nothing else will close it.
  try {
    return { fd: fdBackend.dup(serverFd(server)), address };
  } finally {
    server.close();
  }
}

function notTcp(): PortunusError {
  return new PortunusError('ERR_PORTUNUS_UNSUPPORTED', 'acceptAndDispatch needs a TCP listening socket');
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
    await Promise.all(sets.map((set) => set.close?.()));
    throw error;
  }
  return socket;
}
