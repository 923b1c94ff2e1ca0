/**
 * The binding layer's door: the descriptor backend, chosen once, at load (this is the only place in
 * portunus that looks at `process.platform`), and the descriptors under Node's own socket objects
 * (./node-handles.ts). The layers above import the binding from here only. Unit tests replace the backend
 * with an in-memory one through `useFdBackend()`.
 * @module
 */
import type { FdBackend } from './backend.js';
import { unixBackend } from './unix.js';
import { unsupportedBackend } from './unsupported.js';
import { windowsBackend } from './windows.js';

export {
  detachReads,
  dgramFd,
  listenTarget,
  serverFd,
  socketFd,
  tcpSocketFromFd,
  type DetachedReads,
} from './node-handles.js';
export { closeMarkedFds, forEachArrival, TRUNCATED } from './read-marks.js';
export type {
  FdBackend,
  PipeSupport,
  PeekSupport,
  SocketAddresses,
  PeerCredentials,
  SocketDescription,
  SocketKind,
  NativeEndpoint,
  EndpointReadCallback,
  NativeAcceptor,
  AcceptCallback,
  NativeReadableWatcher,
  ReadableCallback,
} from './backend.js';

/** True where descriptors can be passed between unrelated processes with SCM_RIGHTS. */
export const hasUnixDescriptorPassing = process.platform !== 'win32';

/**
 * The backend for this platform. A `let` only so that `useFdBackend()` can replace it: every layer imports
 * it by name, and an ES module import is a live binding, so each use reads whichever backend is current.
 */
export let fdBackend: FdBackend = hasUnixDescriptorPassing ? unixBackend() : platformBackend();

/**
 * Windows: the native named pipe backend where the addon was built from native/win (docs/windows.md);
 * without it, the backend that says so on every call (the node-ipc channel works either way).
 */
function platformBackend(): FdBackend {
  if (process.platform !== 'win32') return unsupportedBackend;
  try {
    return windowsBackend();
  } catch {
    return unsupportedBackend;
  }
}

/**
 * @internal The seam for unit tests: makes `backend` the one every layer uses from now on and returns the
 * one it replaces, so that the channel and transport layers can run over an in-memory backend
 * (test/helpers/fake-backend.js). Descriptors belong to the backend that made them: swap only while no
 * channel, endpoint or descriptor of the current backend is still in use. Applications never call it.
 */
export function useFdBackend(backend: FdBackend): FdBackend {
  const previous = fdBackend;
  fdBackend = backend;
  return previous;
}
