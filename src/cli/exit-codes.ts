/**
 * The exit codes of `portunus`, in one place (docs/cli.md lists them): scripts and service managers act on
 * them, so they never change meaning.
 * @module
 */
export const ExitCode = {
  /** Done: a command succeeded, or `serve` drained and stopped after SIGTERM or SIGINT. */
  OK: 0,
  /** It ran and failed: `serve` could not start (port taken, workers fail) or closed badly; the master answered `ctl` with an error. */
  FAILED: 1,
  /** The command line or the config file is wrong (the message names the flag or key). Nothing was started. */
  USAGE: 2,
  /** `ctl` could not reach a master: no socket there, permission denied, refused by credentials, or no answer. */
  UNREACHABLE: 3,
} as const;

/** A wrong command line or config file: printed with the help hint, exit code 2. */
export class UsageError extends Error {
  readonly code = 'ERR_PORTUNUS_USAGE';
}
