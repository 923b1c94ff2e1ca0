/**
 * The `unix` backend: the native addon's SCM_RIGHTS endpoint and descriptor operations (Linux, macOS, BSD).
 * @module
 */
import { PortunusError } from '../errors.js';
import { nativeAddon } from './native.js';
import type { FdBackend } from './backend.js';

function noAbstractNames(): never {
  throw new PortunusError(
    'ERR_PORTUNUS_UNSUPPORTED',
    `abstract socket names ('\\0name') exist on Linux only, not on ${process.platform}`,
    {
      platform: process.platform,
    },
  );
}

export function unixBackend(): FdBackend {
  const addon = nativeAddon();
  // The addon exports the abstract-name calls only where it was built for Linux.
  const { listenAbstract, connectAbstract } = addon;
  return {
    name: 'unix',
    maxFdsPerMessage: addon.maxFdsPerMessage,
    tooManyRefsErrno: addon.ETOOMANYREFS,
    sunPathSize: addon.sunPathSize,
    listenAbstract: (address, backlog) => (listenAbstract ?? noAbstractNames)(address, backlog),
    connectAbstract: (address) => (connectAbstract ?? noAbstractNames)(address),
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
