/**
 * Where channel sockets live on the filesystem: a socket file is created 0600 inside a directory that is
 * 0700 and owned by this user, so that file permissions already keep other users out before the peer
 * credential check does. Abstract names (leading NUL, Linux) have no file and rely on that check alone.
 * @module
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { PortunusError } from '../errors.js';

/** True for a Linux abstract socket name such as '\0portunus'. */
export function isAbstractName(socketPath: string): boolean {
  return socketPath.startsWith('\0');
}

/**
 * Makes sure the directory of `socketPath` exists, is a real directory (not a symlink), belongs to this
 * user and is closed to everyone else; creates it 0700 if missing. Throws ERR_PORTUNUS_INSECURE_PATH.
 */
export async function ensurePrivateDirectory(socketPath: string): Promise<void> {
  const directory = path.dirname(path.resolve(socketPath));
  await makeDirectories(directory);
  const stats = await fs.lstat(directory);
  const uid = process.getuid?.();
  if (!stats.isDirectory()) {
    throw new PortunusError('ERR_PORTUNUS_INSECURE_PATH', `${directory} is not a directory`, { path: directory });
  }
  if (uid !== undefined && stats.uid !== uid) {
    throw new PortunusError(
      'ERR_PORTUNUS_INSECURE_PATH',
      `${directory} belongs to uid ${stats.uid}, not to this process (uid ${uid})`,
      { path: directory },
    );
  }
  if ((stats.mode & 0o077) !== 0) {
    throw new PortunusError(
      'ERR_PORTUNUS_INSECURE_PATH',
      `${directory} is open to other users (mode ${(stats.mode & 0o777).toString(8)}); channel sockets need a 0700 directory`,
      { path: directory },
    );
  }
}

/**
 * Creates `directory` and its missing parents, each 0700, one level at a time. Node's own
 * `fs.mkdir(…, { recursive: true })` never settles when a parent exists but refuses new entries with ENOENT,
 * as /proc does: it takes the ENOENT for a missing parent, "creates" the parent (EEXIST), retries the child,
 * gets ENOENT again, and so on forever, keeping the process busy. Here an ENOENT once the parent is known to
 * exist is final, and rejects.
 */
async function makeDirectories(directory: string): Promise<void> {
  try {
    await fs.mkdir(directory, { mode: 0o700 });
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT' || path.dirname(directory) === directory) throw error;
  }
  await makeDirectories(path.dirname(directory));
  try {
    await fs.mkdir(directory, { mode: 0o700 });
  } catch (error) {
    // Someone else made it meanwhile: what it is gets checked next, as for a directory that existed.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

/**
 * Removes a socket file left behind by a process that is gone, so that listen() can bind again. A socket
 * someone still accepts on is left alone (listen then fails with EADDRINUSE, as it should); anything that
 * is not a socket is never removed.
 */
export async function removeStaleSocket(socketPath: string): Promise<void> {
  let stats;
  try {
    stats = await fs.lstat(socketPath);
  } catch {
    return;
  }
  if (!stats.isSocket()) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code !== 'ECONNREFUSED'));
  });
  if (!alive) await fs.unlink(socketPath).catch(() => {});
}

/** Restricts a freshly bound socket file to its owner. */
export async function restrictSocketFile(socketPath: string): Promise<void> {
  await fs.chmod(socketPath, constants.S_IRUSR | constants.S_IWUSR);
}
