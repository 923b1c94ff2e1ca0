/**
 * The `unix` backend: the native addon's SCM_RIGHTS endpoint and descriptor operations (Linux, macOS, BSD).
 * @module
 */
import { nativeAddon } from './native.js';
import type { FdBackend } from './backend.js';

export function unixBackend(): FdBackend {
  const addon = nativeAddon();
  return {
    name: 'unix',
    maxFdsPerMessage: addon.maxFdsPerMessage,
    tooManyRefsErrno: addon.ETOOMANYREFS,
    socketPair: (type) => addon.socketPair(type),
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
    createAcceptor: (fd, onAccept) => new addon.Acceptor(fd, onAccept),
  };
}
