/**
 * The socket file of a Unix stream listener the master serves (`listen: { path }`, or a net.Server that bound
 * its path itself). The master made it, or took it over from a server that would have unlinked it when it
 * closed, so the master unlinks it when it closes — not a worker (which holds a copy of the socket, never the
 * name) and not a process that handed the listener to a successor by takeover (the successor serves the name
 * now). The file is unlinked only while it is still the socket the master bound: a path someone bound anew
 * meanwhile is left alone.
 * @module
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { removeStaleSocket, restrictSocketFile } from '../channel/index.js';

/** Owner read and write: what a service socket gets unless `readableAll` or `writableAll` open it. */
export const DEFAULT_SOCKET_MODE = 0o600;

/** A socket file the master unlinks when it closes its listener. */
export class ServiceSocketFile {
  readonly path: string;
  readonly #identity: { dev: number; ino: number };
  #kept = false;

  private constructor(socketPath: string, identity: { dev: number; ino: number }) {
    this.path = socketPath;
    this.#identity = identity;
  }

  /** Records the socket file at `socketPath`, as bound now; undefined for an abstract name (no file). */
  static async of(socketPath: string): Promise<ServiceSocketFile | undefined> {
    if (socketPath.startsWith('\0')) return undefined;
    const stats = await fs.lstat(socketPath);
    return new ServiceSocketFile(path.resolve(socketPath), { dev: stats.dev, ino: stats.ino });
  }

  /** The listener lives on in another process (takeover): its name stays. */
  keep(): void {
    this.#kept = true;
  }

  /** Unlinks the file, if it is still the one bound and nobody took it over. Never rejects. */
  async remove(): Promise<void> {
    if (this.#kept) return;
    this.#kept = true;
    try {
      const stats = await fs.lstat(this.path);
      if (stats.isSocket() && stats.dev === this.#identity.dev && stats.ino === this.#identity.ino)
        await fs.unlink(this.path);
    } catch {
      // Gone already, or not ours to remove: nothing to do.
    }
  }
}

/**
 * Prepares `socketPath` for a service listener: its directory is created 0700 when missing (an existing one is
 * the user's and left as it is), and a socket file left behind by a process that is gone is removed. A socket
 * someone still listens on is left alone: listening fails with EADDRINUSE, as it should.
 */
export async function prepareSocketPath(socketPath: string): Promise<void> {
  if (socketPath.startsWith('\0')) return;
  await fs.mkdir(path.dirname(path.resolve(socketPath)), { recursive: true, mode: 0o700 });
  await removeStaleSocket(socketPath);
}

/** Gives a freshly bound socket file its default mode, owner only, unless the listen options opened it. */
export async function applyDefaultMode(socketPath: string, options: { readableAll?: boolean; writableAll?: boolean }) {
  if (socketPath.startsWith('\0') || options.readableAll === true || options.writableAll === true) return;
  await restrictSocketFile(socketPath);
}
