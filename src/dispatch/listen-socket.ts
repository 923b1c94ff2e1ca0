/**
 * The listening socket a dispatcher accepts on. It is bound by Node (so options, IPv6 and errors behave as
 * with `server.listen()`), then the dispatcher keeps a duplicate of its descriptor and Node's object is
 * closed, so only the dispatcher's native acceptor takes connections from it.
 * @module
 */
import net from 'node:net';
import { fdBackend } from '../binding/index.js';
import { PortunusError } from '../errors.js';
import { serverFd } from '../transport/node-internals.js';

export interface ListeningSocket {
  /** The dispatcher's own descriptor of the listening socket. */
  fd: number;
  address: net.AddressInfo;
}

/**
 * Opens (or takes over) a TCP listening socket. A given net.Server must be listening on TCP; it is closed
 * after its descriptor was duplicated (the socket itself keeps listening, and its backlog is kept).
 */
export async function openListeningSocket(listen: net.ListenOptions | net.Server): Promise<ListeningSocket> {
  let server: net.Server;
  if (listen instanceof net.Server) {
    server = listen;
    if (!server.listening) throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', 'the server given to acceptAndDispatch must be listening');
  } else {
    if (listen.path !== undefined) {
      throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', 'acceptAndDispatch listens on TCP; Unix socket paths are not supported by the dispatcher yet');
    }
    server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }
  const address = server.address();
  if (address === null || typeof address === 'string') {
    server.close();
    throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', 'acceptAndDispatch needs a TCP listening socket');
  }
  // Node's object is closed whether or not the duplicate could be made: nothing else will close it.
  try {
    return { fd: fdBackend.dup(serverFd(server)), address };
  } finally {
    server.close();
  }
}
