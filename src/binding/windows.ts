/**
 * The `windows` backend: the native addon's named pipe endpoint, which carries sockets as WSAPROTOCOL_INFOW
 * records duplicated for the peer's process (WSADuplicateSocketW) and turns received ones back into sockets
 * (WSASocketW), and its socket operations (native/win). Descriptors are SOCKETs and pipe HANDLEs, numbers
 * within 32 bits as Windows guarantees. There are no Unix sockets: channels listen on and connect to pipe
 * names (`\\.\pipe\…`); docs/windows.md says what works and how it is tested.
 * @module
 */
import { PortunusError } from '../errors.js';
import { nativeAddon } from './native.js';
import type { FdBackend } from './backend.js';

function unsupported(operation: string): never {
  throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', `${operation} does not exist on Windows`, {
    platform: process.platform,
  });
}

const PIPE_PREFIX = /^\\\\[.?]\\pipe\\./i;

/**
 * No `peeking`: native/win has no peek or readable watcher, and Winsock does not implement SO_RCVLOWAT, so
 * waiting for more than the bytes already peeked could only spin. The dispatcher reads a routed connection
 * through a net.Socket here.
 */
export function windowsBackend(): FdBackend {
  const addon = nativeAddon();
  const { listenPipe, connectPipe, locateSocket, TcpAcceptor } = addon;
  if (listenPipe === undefined || connectPipe === undefined || locateSocket === undefined) {
    throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', 'the native addon was not built from native/win', {
      platform: process.platform,
    });
  }
  return {
    name: 'windows',
    maxFdsPerMessage: addon.maxFdsPerMessage,
    tooManyRefsErrno: 0,
    sunPathSize: 0,
    listenAbstract: () => unsupported('an abstract socket name'),
    connectAbstract: () => unsupported('an abstract socket name'),
    reusePort: false,
    listenReusePort: () => unsupported("listener mode 'reuseport' (SO_REUSEPORT)"),
    steerReusePort: () => false,
    socketPair: (type) =>
      type === undefined || type === 'stream' ? addon.socketPair() : unsupported(`a ${type} socketpair`),
    dup: (fd) => addon.dup(fd),
    close: (fd) => addon.close(fd),
    setInheritable: (fd, inheritable) => addon.setInheritable(fd, inheritable),
    peerCredentials: (fd) => addon.peerCredentials(fd),
    describeSocket: (fd) => addon.describeSocket(fd),
    socketKind: (fd) => {
      const pair = addon.socketKind(fd);
      return { kind: pair[0], listening: pair[1] };
    },
    createEndpoint: (fd, onRead, onWritable) => new addon.Endpoint(fd, onRead, onWritable),
    // A pipe listener's handle, or a listening TCP socket (the dispatcher's).
    createAcceptor: (fd, onAccept) =>
      addon.socketKind(fd)[0] === 'tcp' && TcpAcceptor !== undefined
        ? new TcpAcceptor(fd, onAccept)
        : new addon.Acceptor(fd, onAccept),
    childInheritsHandles: true,
    pipes: {
      isPipeName: (address) => PIPE_PREFIX.test(address),
      // Documented in docs/windows.md: other programs find a portunus process by this name.
      nameForPid: (pid) => `\\\\.\\pipe\\portunus-pid-${pid}`,
      listen: (name, sids) => listenPipe(name, sids),
      connect: (name, sids) => {
        try {
          return connectPipe(name, sids);
        } catch (error) {
          // The pipe's owner is not trusted: the native call says why; the error is portunus's own.
          if ((error as { code?: string }).code !== 'ERR_PORTUNUS_PEER_REFUSED') throw error;
          throw new PortunusError('ERR_PORTUNUS_PEER_REFUSED', (error as Error).message, { path: name });
        }
      },
    },
    locateSocket: (addresses) =>
      locateSocket(
        addresses.localAddress,
        addresses.localPort,
        addresses.remoteAddress ?? '',
        addresses.remotePort ?? 0,
        addresses.remoteAddress === undefined,
      ),
  };
}
