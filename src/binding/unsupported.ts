/**
 * The backend used where no native descriptor passing exists (Windows until native/win lands): every call
 * throws ERR_PORTUNUS_UNSUPPORTED naming the platform.
 * @module
 */
import { PortunusError } from '../errors.js';
import type { FdBackend } from './backend.js';

function unsupported(operation: string): never {
  throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', `${operation} is not supported on ${process.platform}`, {
    platform: process.platform,
  });
}

export const unsupportedBackend: FdBackend = {
  name: 'unsupported',
  maxFdsPerMessage: 0,
  tooManyRefsErrno: 0,
  sunPathSize: 0,
  listenAbstract: () => unsupported('listening on an abstract socket name'),
  connectAbstract: () => unsupported('connecting to an abstract socket name'),
  reusePort: false,
  listenReusePort: () => unsupported("listener mode 'reuseport' (SO_REUSEPORT)"),
  steerReusePort: () => false,
  socketPair: () => unsupported('socketpair'),
  dup: () => unsupported('dup'),
  close: () => unsupported('close'),
  setInheritable: () => unsupported('setInheritable'),
  peerCredentials: () => unsupported('peer credentials'),
  describeSocket: () => unsupported('socket introspection'),
  socketKind: () => unsupported('socket introspection'),
  createEndpoint: () => unsupported('SCM_RIGHTS channels'),
  createAcceptor: () => unsupported('native accept'),
};
