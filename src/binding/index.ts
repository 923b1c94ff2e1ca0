/**
 * The binding layer's door: the descriptor backend, chosen once, at load (this is the only place in
 * portunus that looks at `process.platform`), and the descriptors under Node's own socket objects
 * (./node-handles.ts). The layers above import the binding from here only.
 * @module
 */
import type { FdBackend } from './backend.js';
import { unixBackend } from './unix.js';
import { unsupportedBackend } from './unsupported.js';

export { detachReads, dgramFd, serverFd, socketFd, tcpSocketFromFd, type DetachedReads } from './node-handles.js';
export { closeMarkedFds, forEachArrival, TRUNCATED } from './read-marks.js';
export type {
  FdBackend,
  PeerCredentials,
  SocketDescription,
  SocketKind,
  NativeEndpoint,
  EndpointReadCallback,
  NativeAcceptor,
  AcceptCallback,
} from './backend.js';

/** True where descriptors can be passed between unrelated processes with SCM_RIGHTS. */
export const hasUnixDescriptorPassing = process.platform !== 'win32';

/** The backend for this platform. */
export const fdBackend: FdBackend = hasUnixDescriptorPassing ? unixBackend() : unsupportedBackend;
