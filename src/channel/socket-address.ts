/**
 * Checks the address given to `listenChannel()` and `connectChannel()` before anything touches the
 * filesystem or the network. A path longer than sockaddr_un's sun_path used to be cut short silently by
 * libuv (Node 20): the socket was bound under the truncated name, possibly in a parent directory, and the
 * next step failed with a misleading ENOENT. An address that does not fit is refused synchronously instead.
 * @module
 */
import { fdBackend } from '../binding/index.js';
import { invalidArgument } from '../errors.js';
import { validateString } from '../validate.js';
import { isAbstractName } from './secure-path.js';

/** A channel socket address, checked. */
export interface SocketAddress {
  /** As the caller wrote it. */
  path: string;
  /** A Linux abstract name ('\0name'): no file, and `bytes` go to the kernel with their exact length. */
  abstract: boolean;
  /** A named pipe (`\\.\pipe\name`, Windows): the backend listens and connects by that name itself. */
  pipe: boolean;
  /** The UTF-8 bytes of `path`, as they go in sun_path. */
  bytes: Buffer;
}

/**
 * Checks `socketPath` (the argument `name` of the caller): a non-empty string; a filesystem path without NUL
 * bytes that fits in sun_path with its terminating NUL (107 bytes on Linux, 103 on macOS and the BSDs), or an
 * abstract name of at least one byte after its leading NUL that fits in sun_path (108 bytes on Linux, NUL
 * included). Lengths are in bytes, not characters. Throws ERR_INVALID_ARG_TYPE or ERR_INVALID_ARG_VALUE.
 */
export function checkSocketAddress(socketPath: unknown, name = 'socketPath'): SocketAddress {
  validateString(socketPath, name, { nonEmpty: true });
  const bytes = Buffer.from(socketPath, 'utf8');
  if (fdBackend.pipes?.isPipeName(socketPath) === true) return { path: socketPath, abstract: false, pipe: true, bytes };
  const abstract = isAbstractName(socketPath);
  // 0 where the platform has no Unix sockets: nothing to measure against (listening fails later, as before).
  const size = fdBackend.sunPathSize;
  if (abstract) {
    if (bytes.length < 2)
      throw invalidArgument(
        name,
        "an abstract name with at least one byte after its leading NUL ('\\0name')",
        socketPath,
        'value',
      );
    if (size > 0 && bytes.length > size) {
      throw invalidArgument(
        name,
        `an abstract name of at most ${size} bytes, its leading NUL included (the size of sockaddr_un.sun_path here), not ${bytes.length} bytes`,
        socketPath,
        'value',
      );
    }
  } else {
    if (bytes.includes(0))
      throw invalidArgument(
        name,
        'a path without NUL bytes (a leading NUL makes an abstract name)',
        socketPath,
        'value',
      );
    if (size > 0 && bytes.length > size - 1) {
      throw invalidArgument(
        name,
        `a path of at most ${size - 1} bytes (sockaddr_un.sun_path holds ${size} here, its terminating NUL included), not ${bytes.length} bytes`,
        socketPath,
        'value',
      );
    }
  }
  return { path: socketPath, abstract, pipe: false, bytes };
}
