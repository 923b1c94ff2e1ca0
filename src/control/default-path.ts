/**
 * Where a master's control socket lives when none is named: in this user's runtime directory
 * ($XDG_RUNTIME_DIR, which systemd makes 0700 per user), else in a private directory of the system's
 * temporary directory named after the uid. Either way listenControl() checks or creates the directory 0700.
 * @module
 */
import os from 'node:os';
import path from 'node:path';

/** The default control socket path for this user: `$XDG_RUNTIME_DIR/portunus/control.sock` or `$TMPDIR/portunus-<uid>/control.sock`. */
export function defaultControlPath(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime !== undefined && path.isAbsolute(runtime)) return path.join(runtime, 'portunus', 'control.sock');
  return path.join(os.tmpdir(), `portunus-${process.getuid?.() ?? 'user'}`, 'control.sock');
}
