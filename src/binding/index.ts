/**
 * Chooses the descriptor backend once, at load. This is the only place in portunus that looks at
 * `process.platform`.
 * @module
 */
import type { FdBackend } from './backend.js';
import { unixBackend } from './unix.js';
import { unsupportedBackend } from './unsupported.js';

export type { FdBackend, PeerCredentials, SocketDescription, SocketKind, NativeEndpoint, EndpointReadCallback, NativeAcceptor, AcceptCallback } from './backend.js';

/** True where descriptors can be passed between unrelated processes with SCM_RIGHTS. */
export const hasUnixDescriptorPassing = process.platform !== 'win32';

/** The backend for this platform. */
export const fdBackend: FdBackend = hasUnixDescriptorPassing ? unixBackend() : unsupportedBackend;
