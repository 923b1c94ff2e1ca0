/**
 * The argument checks of the public API. Every exported function and constructor checks what it was given
 * with these validators before it opens, reads or awaits anything, so a bad argument throws synchronously
 * (even from a function that returns a promise) with Node's codes: ERR_INVALID_ARG_TYPE when the value is
 * not even of the right type, ERR_INVALID_ARG_VALUE when it is of the right type but out of bounds. The error
 * names the argument or option (`options.maxPending`) and shows what was received (see invalidArgument).
 * @module
 */
import { invalidArgument } from './errors.js';

/** Longest delay setTimeout honours (2^31 - 1 ms); a longer one fires at once, with a warning. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Largest descriptor number: descriptors are C ints, and the addon reads them as int32. */
const MAX_FD = 2 ** 31 - 1;

/**
 * An options object, or undefined for none. Returns the object to read options from ({} for undefined).
 * Arrays and null are refused: `channelPair(null)` is a mistake, not a request for defaults.
 */
export function validateOptions<T extends object>(options: T | undefined, name = 'options'): T {
  if (options === undefined) return {} as T;
  validateObject(options, name);
  return options;
}

/** A non-null object that is not an array. */
export function validateObject(value: unknown, name: string, expected = 'an object'): asserts value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgument(name, expected, value);
}

/** An integer from `min` to `max` (inclusive). */
export function validateInteger(
  value: unknown,
  name: string,
  min = Number.MIN_SAFE_INTEGER,
  max = Number.MAX_SAFE_INTEGER,
): asserts value is number {
  const expected = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  if (typeof value !== 'number') throw invalidArgument(name, expected, value);
  if (!Number.isInteger(value) || value < min || value > max) throw invalidArgument(name, expected, value, 'value');
}

/** A delay in milliseconds that setTimeout can honour: an integer from `min` (default 1) to 2^31 - 1. */
export function validateTimeout(value: unknown, name: string, min = 1): asserts value is number {
  validateInteger(value, name, min, MAX_TIMEOUT_MS);
}

/** A file descriptor number: an integer from 0 to 2^31 - 1. Whether it is open is the system's to say. */
export function validateFd(value: unknown, name = 'fd'): asserts value is number {
  if (typeof value !== 'number') throw invalidArgument(name, 'a file descriptor (an integer >= 0)', value);
  if (!Number.isInteger(value) || value < 0 || value > MAX_FD)
    throw invalidArgument(name, 'a file descriptor (an integer >= 0)', value, 'value');
}

/** A function. */
export function validateFunction(value: unknown, name: string): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') throw invalidArgument(name, 'a function', value);
}

/** A string; with `nonEmpty`, one with at least one character. */
export function validateString(value: unknown, name: string, { nonEmpty = false } = {}): asserts value is string {
  if (typeof value !== 'string') throw invalidArgument(name, nonEmpty ? 'a non-empty string' : 'a string', value);
  if (nonEmpty && value.length === 0) throw invalidArgument(name, 'a non-empty string', value, 'value');
}

/** true or false. */
export function validateBoolean(value: unknown, name: string): asserts value is boolean {
  if (typeof value !== 'boolean') throw invalidArgument(name, 'a boolean', value);
}

/** Bytes: a Buffer or any other Uint8Array. */
export function validateBytes(value: unknown, name: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalidArgument(name, 'a Buffer or a Uint8Array', value);
}

/** One of a few allowed values (compared with ===). */
export function validateOneOf<T>(value: unknown, name: string, allowed: readonly T[]): asserts value is T {
  if (!allowed.includes(value as T)) {
    const listed = allowed.map((item) => (typeof item === 'string' ? `'${item}'` : String(item)));
    throw invalidArgument(name, `one of ${listed.join(', ')}`, value, 'value');
  }
}

/** An instance of `type`; `expected` says it for people ('a Channel'). */
export function validateInstance<T>(
  value: unknown,
  name: string,
  type: abstract new (...args: never[]) => T,
  expected: string,
): asserts value is T {
  if (!(value instanceof type)) throw invalidArgument(name, expected, value);
}
