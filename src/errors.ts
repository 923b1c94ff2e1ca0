/**
 * Errors raised by portunus. Every failure has a stable `code` (listed in docs/errors.md); errors that come
 * from the operating system keep Node's SystemError shape (`code` such as `EPIPE`, negative `errno`,
 * `syscall`) so they can be handled exactly like errors from `node:net`.
 * @module
 */
import { inspect } from 'node:util';

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
  | 'ERR_PORTUNUS_QUEUE_TIMEOUT'
  | 'ERR_PORTUNUS_PROXY_PROTOCOL'
  | 'ERR_PORTUNUS_NO_ROUTE'
  | 'ERR_PORTUNUS_HEAD_TOO_LARGE'
  | 'ERR_PORTUNUS_BAD_REQUEST'
  | 'ERR_PORTUNUS_REGISTRATION_REFUSED'
  | 'ERR_PORTUNUS_REGISTER_TIMEOUT'
  | 'ERR_PORTUNUS_BAD_SERVICE_NAME'
  | 'ERR_PORTUNUS_NAME_TIMEOUT'
  | 'ERR_PORTUNUS_UNKNOWN_SERVICE'
  | 'ERR_PORTUNUS_SERVICE_UNAVAILABLE'
  | 'ERR_PORTUNUS_MUX_BUSY'
  | 'ERR_PORTUNUS_SERVICE_REFUSED'
  | 'ERR_PORTUNUS_BAD_REPLY'
  | 'ERR_PORTUNUS_REPLY_TIMEOUT'
  | 'ERR_PORTUNUS_CONTROL_LINE_TOO_LONG'
  | 'ERR_PORTUNUS_CONTROL_UNKNOWN_COMMAND'
  | 'ERR_PORTUNUS_CONTROL_BAD_ARGUMENT'
  | 'ERR_PORTUNUS_USAGE';

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

  /** `instanceof PortunusError`: true for an error made by any installed copy of portunus (it carries the brand). */
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
  /** The descriptor the call was made on, when it was made on one (also named in the message). */
  fd?: number;
}

/** True when `error` has the SystemError shape (an errno-bearing error from the OS). */
export function isSystemError(error: unknown): error is SystemError {
  return (
    error instanceof Error &&
    typeof (error as SystemError).syscall === 'string' &&
    typeof (error as SystemError).errno === 'number'
  );
}

/**
 * Builds a SystemError like Node's from a negative errno reported by the native layer. A call made on a
 * descriptor passes it as `fd`, so that the message says which one ('sendmsg EPIPE (fd 12)'), as the native
 * layer's own errors do.
 */
export function systemError(negativeErrno: number, syscall: string, codeName: string, fd?: number): SystemError {
  const error = new Error(
    fd === undefined ? `${syscall} ${codeName}` : `${syscall} ${codeName} (fd ${fd})`,
  ) as SystemError;
  error.code = codeName;
  error.errno = negativeErrno;
  error.syscall = syscall;
  if (fd !== undefined) error.fd = fd;
  return error;
}

/**
 * Creates the ERR_INVALID_ARG_TYPE (TypeError: not even the right kind of thing) or ERR_INVALID_ARG_VALUE
 * (RangeError: the right kind, a wrong value) error for an argument or option, worded as Node's own
 * validators word theirs: `The "options.maxPending" property must be an integer >= 1. Received NaN`.
 * Public entry points check their arguments with the validators in ./validate.ts, which use this.
 */
export function invalidArgument(
  name: string,
  expected: string,
  actual: unknown,
  kind: 'type' | 'value' = 'type',
): TypeError | RangeError {
  const what = name.includes('.') ? 'property' : 'argument';
  const message = `The "${name}" ${what} must be ${expected}. Received ${describeReceived(actual, kind)}`;
  const error = kind === 'type' ? new TypeError(message) : new RangeError(message);
  (error as Error & { code: string }).code = kind === 'type' ? 'ERR_INVALID_ARG_TYPE' : 'ERR_INVALID_ARG_VALUE';
  return error;
}

/** Longest string shown whole in an argument error; longer ones are cut, as Node cuts them. */
const SHOWN_STRING_LENGTH = 28;

/**
 * How an argument error shows the value it received. A wrong type shows the type with the value, as
 * Node's ERR_INVALID_ARG_TYPE does (`type string ('8080')`, `type number (NaN)`, `an instance of Socket`,
 * `function onData`); a wrong value of the right type shows the value alone (`NaN`, `-0`, `12n`, `'abc'`).
 * JSON.stringify, used before, turned NaN and Infinity into `null` and objects into nothing useful.
 */
function describeReceived(value: unknown, kind: 'type' | 'value' = 'type'): string {
  if (value === null || value === undefined) return String(value);
  switch (typeof value) {
    case 'number': {
      const shown = Object.is(value, -0) ? '-0' : String(value);
      return kind === 'value' ? shown : `type number (${shown})`;
    }
    case 'bigint':
      return kind === 'value' ? `${value}n` : `type bigint (${value}n)`;
    case 'boolean':
      return kind === 'value' ? String(value) : `type boolean (${value})`;
    case 'string': {
      const cut = value.length > SHOWN_STRING_LENGTH ? `${value.slice(0, SHOWN_STRING_LENGTH - 3)}...` : value;
      const quoted = cut.includes("'") ? JSON.stringify(cut) : `'${cut}'`;
      return kind === 'value' ? quoted : `type string (${quoted})`;
    }
    case 'symbol':
      return `type symbol (${String(value)})`;
    case 'function':
      return `function ${value.name === '' ? '<anonymous>' : value.name}`;
    default: {
      const constructorName = (value as { constructor?: { name?: unknown } }).constructor?.name;
      if (typeof constructorName === 'string' && constructorName !== '') return `an instance of ${constructorName}`;
      return inspect(value, { depth: -1 });
    }
  }
}
