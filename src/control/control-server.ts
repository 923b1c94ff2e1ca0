/**
 * listenControl(): the control socket of a serving master. A Unix socket file, 0600 in a 0700 directory of
 * this user's, that takes one command per line and answers each with one line of JSON (docs/control.md).
 * Every client is checked by its kernel-recorded credentials (SO_PEERCRED) before a byte of it is read;
 * garbage, unknown commands and bad arguments are answered as errors, and a line longer than the limit is
 * answered once and the connection closed, so no client can make the master buffer without bound or crash.
 * @module
 */
import net from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { fdBackend, socketFd, type PeerCredentials } from '../binding/index.js';
import {
  checkSocketAddress,
  ensurePrivateDirectory,
  peerPolicy,
  removeStaleSocket,
  restrictSocketFile,
  type PeerAllow,
} from '../channel/index.js';
import { PortunusError } from '../errors.js';
import { WorkerPool } from '../pool/index.js';
import {
  validateInstance,
  validateInteger,
  validateObject,
  validateOptions,
  validateString,
  validateTimeout,
} from '../validate.js';
import { runCommand, type ControlTarget } from './commands.js';
import { LineReader } from './line-reader.js';
import { ServeMetrics } from './metrics.js';

export type { ControlTarget } from './commands.js';

/** Options of `listenControl()`. */
export interface ControlServerOptions {
  /** Which client processes may send commands, by uid. Default: this process's own uid. */
  allow?: PeerAllow;
  /** Longest request line in bytes, newline excluded. Default 4096. */
  maxLineBytes?: number;
  /** A client that sends nothing for this long is disconnected, in ms. Default 60 000. */
  idleTimeoutMs?: number;
}

/** Events of a {@link ControlServer}. */
export interface ControlServerEvents {
  /** A client was refused by the credential check (answered with ERR_PORTUNUS_PEER_REFUSED, then closed). */
  refused: [
    refused: {
      /** Its credentials, undefined if they could not be read. */
      credentials: PeerCredentials | undefined;
      /** ERR_PORTUNUS_PEER_REFUSED, or the error reading its credentials. */
      error: Error;
    },
  ];
  /** A command was answered. */
  command: [
    event: {
      /** The request line's first word. */
      command: string;
      /** The error it was answered with, if it failed. */
      error: PortunusError | undefined;
    },
  ];
  /** The listening socket failed. */
  error: [error: Error];
}

/** One answer line: a result, or an error with its code. */
export type ControlResponse =
  | {
      /** The command succeeded. */
      ok: true;
      /** What it returned. */
      result: unknown;
    }
  | {
      /** The command failed. */
      ok: false;
      /** Why. */
      error: {
        /** A stable code (docs/errors.md). */
        code: string;
        /** For people. */
        message: string;
      };
    };

/** A listening control socket, as returned by `listenControl()`. */
export class ControlServer extends EventEmitter<ControlServerEvents> {
  readonly #server: net.Server;
  readonly #path: string;
  readonly #clients = new Set<net.Socket>();
  #closed = false;

  /** @internal Use `listenControl()`. */
  constructor(
    server: net.Server,
    socketPath: string,
    target: ControlTarget,
    allowed: (credentials: PeerCredentials) => boolean,
    limits: { maxLineBytes: number; idleTimeoutMs: number },
  ) {
    super();
    this.#server = server;
    this.#path = socketPath;
    server.on('connection', (socket) => this.#accept(socket, target, allowed, limits));
    server.on('error', (error) => this.emit('error', error));
  }

  /** The socket file's path. */
  get path(): string {
    return this.#path;
  }

  /** Stops listening, disconnects every client and removes the socket file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const client of this.#clients) client.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    // Node unlinks the file it bound; a file someone replaced meanwhile is theirs.
  }

  #accept(
    socket: net.Socket,
    target: ControlTarget,
    allowed: (credentials: PeerCredentials) => boolean,
    limits: { maxLineBytes: number; idleTimeoutMs: number },
  ): void {
    socket.on('error', () => {});
    let credentials: PeerCredentials | undefined;
    try {
      credentials = fdBackend.peerCredentials(socketFd(socket));
      if (!allowed(credentials)) {
        throw new PortunusError(
          'ERR_PORTUNUS_PEER_REFUSED',
          `peer pid ${credentials.pid} uid ${credentials.uid} is not allowed on this control socket`,
          { credentials },
        );
      }
    } catch (error) {
      // Told why, so that `portunus ctl` can say so; nothing the client sent is read.
      socket.end(answer(failure(error)));
      socket.setTimeout(1000, () => socket.destroy());
      this.emit('refused', { credentials, error: error as Error });
      return;
    }
    if (this.#closed) {
      socket.destroy();
      return;
    }
    this.#clients.add(socket);
    socket.once('close', () => this.#clients.delete(socket));
    socket.setTimeout(limits.idleTimeoutMs, () => socket.destroy());
    new ControlSession(socket, target, new LineReader(limits.maxLineBytes), (event) => this.emit('command', event));
  }
}

/** How long a connection that sent an overlong line may live on, for its client to read the answer. */
const OVERLONG_LINGER_MS = 5000;

/** One client: its lines, answered one at a time, in order, with backpressure both ways. */
class ControlSession {
  readonly #socket: net.Socket;
  readonly #target: ControlTarget;
  readonly #reader: LineReader;
  readonly #onCommand: (event: { command: string; error: PortunusError | undefined }) => void;
  readonly #queue: string[] = [];
  #busy = false;
  #overlong = false;
  #clientEnded = false;

  constructor(
    socket: net.Socket,
    target: ControlTarget,
    reader: LineReader,
    onCommand: (event: { command: string; error: PortunusError | undefined }) => void,
  ) {
    this.#socket = socket;
    this.#target = target;
    this.#reader = reader;
    this.#onCommand = onCommand;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => {
      this.#clientEnded = true;
      // A last line without its newline is still a request.
      if (!this.#overlong) this.#onData(Buffer.from('\n'));
    });
  }

  #onData(chunk: Buffer): void {
    // After an overlong line the rest is read and thrown away, so that closing does not reset the connection
    // (unread input turns close into RST, which can destroy the error answer before the client reads it).
    if (this.#overlong) return;
    const { lines, overlong } = this.#reader.push(chunk);
    for (const line of lines) if (line.trim() !== '') this.#queue.push(line);
    if (overlong) this.#overlong = true;
    void this.#drain();
  }

  async #drain(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    // Nothing more is read while a command runs or its answer waits to be written.
    this.#socket.pause();
    while (this.#queue.length > 0 && !this.#socket.destroyed) {
      const line = this.#queue.shift()!;
      const words = line.trim().split(/\s+/);
      let response: ControlResponse;
      let error: PortunusError | undefined;
      try {
        response = { ok: true, result: await runCommand(this.#target, words) };
      } catch (thrown) {
        response = failure(thrown);
        error = thrown instanceof PortunusError ? thrown : undefined;
      }
      this.#onCommand({ command: words[0]!.slice(0, 64), error });
      if (!this.#socket.write(answer(response))) await new Promise((resolve) => this.#socket.once('drain', resolve));
    }
    this.#busy = false;
    if (this.#overlong && !this.#socket.writableEnded) {
      this.#socket.end(
        answer(
          failure(
            new PortunusError('ERR_PORTUNUS_CONTROL_LINE_TOO_LONG', 'request line too long; closing the connection'),
          ),
        ),
      );
      // A hard deadline, not an idle one: a client that goes on sending would keep an idle timer from firing.
      setTimeout(() => this.#socket.destroy(), OVERLONG_LINGER_MS).unref();
    } else if (this.#clientEnded && !this.#socket.writableEnded) {
      // Everything it sent is answered.
      this.#socket.end();
    }
    this.#socket.resume();
  }
}

/** The answer line for `response`. */
function answer(response: ControlResponse): string {
  return `${JSON.stringify(response)}\n`;
}

/** An error as an answer: its code if it has one (every error portunus makes does). */
function failure(error: unknown): ControlResponse {
  const code =
    typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'ERR_PORTUNUS_REMOTE';
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, error: { code, message } };
}

/**
 * Listens for control clients on `socketPath`, a filesystem path (created 0600 inside a 0700 directory owned
 * by this user, the directory created if missing; a stale socket left by a dead process is replaced), and
 * steers `target` with the commands of docs/control.md. Throws synchronously for a bad path or options;
 * rejects with ERR_PORTUNUS_INSECURE_PATH or the OS error (EADDRINUSE when another master listens there).
 * The server owns its socket and file until `close()`.
 */
export function listenControl(
  socketPath: string,
  target: ControlTarget,
  options: ControlServerOptions = {},
): Promise<ControlServer> {
  const address = checkSocketAddress(socketPath, 'socketPath');
  if (address.abstract)
    throw new PortunusError(
      'ERR_PORTUNUS_UNSUPPORTED',
      'the control socket needs a filesystem path, not an abstract name',
    );
  validateObject(target, 'target');
  validateInstance(target.pool, 'target.pool', WorkerPool, 'a WorkerPool');
  validateInstance(target.metrics, 'target.metrics', ServeMetrics, 'a ServeMetrics');
  validateString(target.mode, 'target.mode');
  const given = validateOptions(options);
  const allowed = peerPolicy(given.allow);
  const maxLineBytes = given.maxLineBytes ?? 4096;
  validateInteger(maxLineBytes, 'options.maxLineBytes', 64, 1 << 20);
  const idleTimeoutMs = given.idleTimeoutMs ?? 60_000;
  validateTimeout(idleTimeoutMs, 'options.idleTimeoutMs');
  return (async () => {
    await ensurePrivateDirectory(socketPath);
    await removeStaleSocket(socketPath);
    // Half-open: a client may send its command and end its side at once (`echo stats | socat - UNIX:…`);
    // the answer, which can take a while (restart-workers), still has a side to go out on.
    const server = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path: socketPath, backlog: 64 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    try {
      await restrictSocketFile(socketPath);
    } catch (error) {
      server.close();
      throw error;
    }
    return new ControlServer(server, socketPath, target, allowed, { maxLineBytes, idleTimeoutMs });
  })();
}
