/**
 * Errors raised by portunus. Every failure has a stable `code` (listed in docs/errors.md); errors that come
 * from the operating system keep Node's SystemError shape (`code` such as `EPIPE`, negative `errno`,
 * `syscall`) so they can be handled exactly like errors from `node:net`.
 * @module
 */

/** Every code a {@link PortunusError} can carry. */
export type PortunusErrorCode =
  | 'ERR_PORTUNUS_BAD_FRAME'
  | 'ERR_PORTUNUS_VERSION_MISMATCH'
  | 'ERR_PORTUNUS_FD_COUNT_MISMATCH'
  | 'ERR_PORTUNUS_TRUNCATED'
  | 'ERR_PORTUNUS_FRAME_TOO_LARGE'
  | 'ERR_PORTUNUS_TOO_MANY_FDS'
  | 'ERR_PORTUNUS_UNKNOWN_FRAME_TYPE'
  | 'ERR_PORTUNUS_HANDSHAKE_TIMEOUT'
  | 'ERR_PORTUNUS_CHANNEL_CLOSED'
  | 'ERR_PORTUNUS_QUEUE_FULL'
  | 'ERR_PORTUNUS_PEER_REFUSED'
  | 'ERR_PORTUNUS_INSECURE_PATH'
  | 'ERR_PORTUNUS_PING_TIMEOUT'
  | 'ERR_PORTUNUS_REMOTE'
  | 'ERR_PORTUNUS_UNSUPPORTED'
  | 'ERR_PORTUNUS_ENVELOPE_MISMATCH'
  | 'ERR_PORTUNUS_BAD_ENVELOPE'
  | 'ERR_PORTUNUS_HANDOFF_REFUSED'
  | 'ERR_PORTUNUS_ADOPT_FAILED'
  | 'ERR_PORTUNUS_UNKNOWN_GROUP'
  | 'ERR_PORTUNUS_WORKER_EXITED'
  | 'ERR_PORTUNUS_READY_TIMEOUT'
  | 'ERR_PORTUNUS_NO_CHANNEL'
  | 'ERR_PORTUNUS_POOL_CLOSED'
  | 'ERR_PORTUNUS_CLOSE_TIMEOUT'
  | 'ERR_PORTUNUS_ACK_TIMEOUT'
  | 'ERR_PORTUNUS_QUEUE_TIMEOUT';

/** Properties an error may carry besides its code and message. */
export interface PortunusErrorDetails {
  /** The error that led to this one. */
  cause?: unknown;
  /** Anything else worth attaching (frame type, peer credentials, …). */
  [key: string]: unknown;
}

/**
 * Marks every PortunusError, whichever copy of portunus made it: two installed copies (a dependency of a
 * dependency) have two classes, and `instanceof` must still recognise both. `Symbol.for` is shared by the
 * whole process.
 */
const BRAND = Symbol.for('portunus.error');

/**
 * Base class of every error portunus creates itself. `error instanceof PortunusError` holds for errors of any
 * installed copy of portunus (the check is a brand, as undici does, not the prototype chain).
 */
export class PortunusError extends Error {
  /** Stable, documented identifier of the failure. */
  readonly code: PortunusErrorCode;

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  constructor(code: PortunusErrorCode, message: string, details: PortunusErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    Object.defineProperty(this, BRAND, { value: true });
    this.name = 'PortunusError';
    this.code = code;
    for (const [key, value] of Object.entries(details)) {
      if (key !== 'cause') (this as Record<string, unknown>)[key] = value;
    }
  }
}

/** An operating-system error as Node reports it (`err.code === 'EPIPE'` and so on). */
export interface SystemError extends Error {
  /** The errno name, such as `EPIPE` or `EMFILE`. */
  code: string;
  /** The negative errno value, as in Node (`-32` for `EPIPE` on Linux). */
  errno: number;
  /** The system call that failed, such as `sendmsg` or `recvmsg`. */
  syscall: string;
}

/** True when `error` has the SystemError shape (an errno-bearing error from the OS). */
export function isSystemError(error: unknown): error is SystemError {
  return error instanceof Error && typeof (error as SystemError).syscall === 'string' && typeof (error as SystemError).errno === 'number';
}

/** Builds a SystemError like Node's from a negative errno returned by the native layer. */
export function systemError(negativeErrno: number, syscall: string, codeName: string): SystemError {
  const error = new Error(`${syscall} ${codeName}`) as SystemError;
  error.code = codeName;
  error.errno = negativeErrno;
  error.syscall = syscall;
  return error;
}

/** Throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE the way Node's own validators do. */
export function invalidArgument(name: string, expected: string, actual: unknown, kind: 'type' | 'value' = 'type'): TypeError | RangeError {
  const shown = typeof actual === 'object' ? (actual === null ? 'null' : 'an object') : JSON.stringify(actual) ?? String(actual);
  const message = `The "${name}" argument must be ${expected}. Received ${shown}`;
  const error = kind === 'type' ? new TypeError(message) : new RangeError(message);
  (error as Error & { code: string }).code = kind === 'type' ? 'ERR_INVALID_ARG_TYPE' : 'ERR_INVALID_ARG_VALUE';
  return error;
}
