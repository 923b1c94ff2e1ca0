/**
 * Service names as RFC 1078 has them: never case-sensitive (stored and compared in lower case), printable
 * ASCII without spaces, bounded in length. One rule for the tcpmux server, the registry and the client, so a
 * name that can be registered can be asked for and the other way round.
 * @module
 */
import { invalidArgument } from '../errors.js';

/** Longest service name anyone may register, in bytes; a tcpmux server may accept shorter ones only. */
export const MAX_SERVICE_NAME_LENGTH = 255;

/** The reserved name that lists the registered services (RFC 1078). */
export const HELP = 'help';

/** Visible ASCII (0x21–0x7e): no spaces, no control characters, nothing a terminal could be tricked by. */
const NAME_PATTERN = /^[\x21-\x7e]+$/;

/** The name in its canonical (lower-case) form, or undefined if it is no valid service name. */
export function normaliseServiceName(name: string, maxLength = MAX_SERVICE_NAME_LENGTH): string | undefined {
  if (name.length === 0 || name.length > maxLength || !NAME_PATTERN.test(name)) return undefined;
  return name.toLowerCase();
}

/** Checks a service name given as an argument (ERR_INVALID_ARG_*) and returns its canonical form. */
export function validateServiceName(name: unknown, argument: string): string {
  if (typeof name !== 'string') throw invalidArgument(argument, 'a service name (a string)', name);
  const normalised = normaliseServiceName(name);
  if (normalised === undefined)
    throw invalidArgument(
      argument,
      `1 to ${MAX_SERVICE_NAME_LENGTH} visible ASCII characters without spaces`,
      name,
      'value',
    );
  return normalised;
}
