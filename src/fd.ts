/**
 * `portunus/fd`: descriptor utilities for applications: what an fd is, closing and duplicating fds received
 * on a channel.
 * Each throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE for something that is not a descriptor number,
 * and the system's error (with `syscall` and `fd`, named in the message) for a number that is not open or
 * not what the call needs.
 * @module
 */
import { fdBackend, type PeerCredentials, type SocketDescription } from './binding/index.js';
import { validateFd } from './validate.js';

export type { PeerCredentials, SocketDescription } from './binding/index.js';

/** Describes any descriptor: socket kind, family, whether it listens, local and peer addresses. */
export function describeFd(fd: number): SocketDescription {
  validateFd(fd);
  return fdBackend.describeSocket(fd);
}

/** Closes a descriptor this process owns (one taken from a ReceivedMessage, for instance). */
export function closeFd(fd: number): void {
  validateFd(fd);
  fdBackend.close(fd);
}

/** Duplicates a descriptor; the copy is close-on-exec and owned by the caller. */
export function dupFd(fd: number): number {
  validateFd(fd);
  return fdBackend.dup(fd);
}

/** Credentials of the process at the other end of a connected Unix socket. */
export function peerCredentialsOf(fd: number): PeerCredentials {
  validateFd(fd);
  return fdBackend.peerCredentials(fd);
}

/** Most descriptors one sendmsg can carry on this platform (frames with more are split transparently). */
export const maxFdsPerMessage: number = fdBackend.maxFdsPerMessage;
