/**
 * Master upgrade for `portunus serve` (SIGUSR2, `ctl upgrade`): the running daemon offers its listeners on a
 * takeover socket next to its control socket; an upgrade starts a new `portunus serve` with the same
 * arguments plus `--takeover-from PATH`, which takes the listeners, starts its own pool and says ready. Only
 * then does this daemon stop accepting (and drain and exit); a successor that fails changes nothing here.
 * @module
 */
import { spawn } from 'node:child_process';
import { PortunusError } from '../errors.js';
import type { Successor, TakeoverServer } from '../takeover/index.js';

/** The takeover socket of the daemon whose control socket is `controlPath`: the same name, `.takeover` added. */
export function takeoverPathFor(controlPath: string): string {
  return `${controlPath}.takeover`;
}

/** `serve`'s arguments without any `--takeover-from` (the successor gets its own). */
export function withoutTakeoverFrom(argv: readonly string[]): string[] {
  const kept: string[] = [];
  const split = argv.indexOf('--');
  for (let i = 0; i < argv.length; i++) {
    if (split === -1 || i < split) {
      if (argv[i] === '--takeover-from') {
        i++;
        continue;
      }
      if (argv[i]!.startsWith('--takeover-from=')) continue;
    }
    kept.push(argv[i]!);
  }
  return kept;
}

/**
 * Starts the successor (`portunus serve --takeover-from <takeover path> …argv`) in a session of its own, with
 * this process's stdout and stderr, so that it outlives this one. Resolves with it once it has taken over;
 * rejects with ERR_PORTUNUS_TAKEOVER_FAILED if it exits first or the takeover rolls back (a successor still
 * running then is sent SIGTERM), and this daemon goes on serving.
 */
export function startSuccessor(takeover: TakeoverServer, serveArgv: readonly string[]): Promise<Successor> {
  const script = process.argv[1]!;
  const child = spawn(
    process.execPath,
    [...process.execArgv, script, 'serve', '--takeover-from', takeover.path, ...serveArgv],
    { detached: true, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  child.unref();
  return new Promise<Successor>((resolve, reject) => {
    const fail = (error: PortunusError) => {
      cleanup();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      reject(error);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(
        new PortunusError(
          'ERR_PORTUNUS_TAKEOVER_FAILED',
          `the new master (pid ${child.pid}) exited ${signal === null ? `with code ${code}` : `on ${signal}`} before it took over; this one keeps serving`,
        ),
      );
    const onSpawnError = (error: Error) =>
      fail(
        new PortunusError('ERR_PORTUNUS_TAKEOVER_FAILED', `could not start the new master: ${error.message}`, {
          cause: error,
        }),
      );
    const onRollback = (error: PortunusError, successor: Successor) => {
      if (successor.pid === child.pid) fail(error);
    };
    const onHandover = (successor: Successor) => {
      cleanup();
      resolve(successor);
    };
    const cleanup = () => {
      child.off('exit', onExit);
      child.off('error', onSpawnError);
      takeover.off('rollback', onRollback);
      takeover.off('handover', onHandover);
    };
    child.once('exit', onExit);
    child.once('error', onSpawnError);
    takeover.on('rollback', onRollback);
    takeover.on('handover', onHandover);
  });
}
