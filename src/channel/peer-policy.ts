/**
 * Which peers a channel accepts. Decisions use the credentials the kernel recorded at connect time
 * (SO_PEERCRED), never what a peer says about itself.
 * @module
 */
import type { PeerCredentials } from '../binding/index.js';
import { invalidArgument } from '../errors.js';

/** Allowed peer uids, or a predicate over the peer's credentials. Default: this process's own uid. */
export type PeerAllow = readonly number[] | ((credentials: PeerCredentials) => boolean);

/** Returns a checker for `allow`, validating it first. */
export function peerPolicy(allow: PeerAllow | undefined): (credentials: PeerCredentials) => boolean {
  if (allow === undefined) {
    const own = process.getuid?.();
    return (credentials) => own === undefined || credentials.uid === own;
  }
  if (typeof allow === 'function') return allow;
  if (!Array.isArray(allow) || !allow.every((uid) => Number.isInteger(uid) && uid >= 0)) {
    throw invalidArgument('options.allow', 'an array of uids or a function', allow);
  }
  const uids = new Set(allow);
  return (credentials) => uids.has(credentials.uid);
}

/**
 * Checks `users`, the SIDs a named pipe admits besides this process's own user (Windows); returns them, an
 * empty list when absent.
 */
export function pipeUsers(users: unknown): readonly string[] {
  if (users === undefined) return [];
  if (!Array.isArray(users) || !users.every((sid) => typeof sid === 'string' && /^S-\d+(-\d+)+$/.test(sid))) {
    throw invalidArgument('options.users', "an array of SID strings ('S-1-5-…')", users);
  }
  return users as readonly string[];
}
