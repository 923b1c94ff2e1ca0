/**
 * Why a worker ended without being asked to, in words a user can act on: how it ended, the last lines of
 * its stderr, and for a worker that never became ready a hint at the usual mistakes — a worker script that
 * is not found, one that throws before it adopts anything, one written the Express way, calling
 * `server.listen()` instead of `adoptConnections(server)`. The last is recognised from the outside, by the
 * listening TCP sockets the worker holds (Linux /proc; elsewhere nothing is found and no hint given).
 * @module
 */
import fs from 'node:fs/promises';
import { PortunusError } from '../errors.js';
import type { PoolWorker, WorkerExit } from './pool-worker.js';

/**
 * The error reporting `worker`'s unexpected end: ERR_PORTUNUS_READY_TIMEOUT when the pool killed it for not
 * becoming ready within `readyTimeoutMs`, else ERR_PORTUNUS_WORKER_EXITED. It carries `workerId`, `pid`,
 * `exit`, `stderr` (its last lines), `hint` (or undefined) and, for a failed spawn, `cause`.
 */
export function workerFailure(worker: PoolWorker, exit: WorkerExit, readyTimeoutMs: number): PortunusError {
  const stderr = worker.stderr?.lines() ?? '';
  const who = `worker ${worker.id}${worker.pid === undefined ? '' : ` (pid ${worker.pid})`}`;
  const how =
    worker.spawnError !== undefined
      ? `could not be started (${worker.spawnError.message})`
      : exit.signal !== null
        ? `was killed by ${exit.signal}`
        : `exited with code ${exit.code}`;
  let message: string;
  let hint: string | undefined;
  const code = worker.readyTimeout !== undefined ? 'ERR_PORTUNUS_READY_TIMEOUT' : 'ERR_PORTUNUS_WORKER_EXITED';
  if (worker.wasReady) {
    message = `${who} ${how}`;
  } else {
    hint = startupHint({
      stderr,
      listening: worker.readyTimeout?.listening ?? [],
      exitCode: exit.code,
      timedOut: worker.readyTimeout !== undefined,
      inherit: worker.channel === undefined,
    });
    message =
      worker.readyTimeout !== undefined
        ? `${who} did not call adoptConnections() within ${readyTimeoutMs} ms and was killed`
        : `${who} ${how} before it was ready`;
    if (hint !== undefined) message += `: ${hint}`;
  }
  if (stderr !== '') message += `\n--- last lines of its stderr ---\n${stderr}`;
  return new PortunusError(code, message, {
    workerId: worker.id,
    pid: worker.pid,
    exit,
    stderr,
    hint,
    cause: worker.spawnError,
  });
}

/** TCP state number of a listening socket in /proc/net/tcp. */
const TCP_LISTEN = '0A';

/** The TCP addresses `pid` listens on ("127.0.0.1:3000", "[::]:8080"); empty when it cannot be told. */
export async function listeningAddressesOf(pid: number): Promise<string[]> {
  try {
    const descriptors = await fs.readdir(`/proc/${pid}/fd`);
    const inodes = new Set<string>();
    await Promise.all(
      descriptors.map(async (fd) => {
        const target = await fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
        const match = /^socket:\[(\d+)\]$/.exec(target);
        if (match !== null) inodes.add(match[1]!);
      }),
    );
    if (inodes.size === 0) return [];
    const addresses: string[] = [];
    for (const table of ['tcp', 'tcp6']) {
      const text = await fs.readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(() => '');
      for (const line of text.split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        if (fields.length < 10 || fields[3] !== TCP_LISTEN || !inodes.has(fields[9]!)) continue;
        addresses.push(decodeAddress(fields[1]!));
      }
    }
    return addresses;
  } catch {
    return [];
  }
}

/** "0100007F:0BB8" to "127.0.0.1:3000"; IPv6 words are in host (little-endian) order too. */
function decodeAddress(field: string): string {
  const [hex, portHex] = field.split(':') as [string, string];
  const port = parseInt(portHex, 16);
  const bytes = Buffer.from(hex, 'hex');
  for (let word = 0; word < bytes.length; word += 4) bytes.subarray(word, word + 4).reverse();
  if (bytes.length === 4) return `${[...bytes].join('.')}:${port}`;
  const groups: string[] = [];
  for (let index = 0; index < 16; index += 2) groups.push(bytes.readUInt16BE(index).toString(16));
  return `[${groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::')}]:${port}`;
}

/** What the user should probably do, from what is known of the failed start; undefined when nothing fits. */
function startupHint(failure: {
  stderr: string;
  listening: readonly string[];
  exitCode: number | null;
  timedOut: boolean;
  inherit: boolean;
}): string | undefined {
  // An inherit mode worker is started through /bin/sh (the LISTEN_PID shim), which exits 127 for a command
  // it cannot find; such a worker listens on nothing itself and never calls adoptConnections().
  if (failure.inherit) {
    return failure.exitCode === 127 || /not found/.test(failure.stderr)
      ? "check the pool's command: the shell that starts it could not find it"
      : undefined;
  }
  if (failure.listening.length > 0) {
    return `the worker listens on ${failure.listening.join(', ')} itself (server.listen()): a dispatched worker does not listen, it calls adoptConnections(server)`;
  }
  if (/EADDRINUSE/.test(failure.stderr)) {
    return "the worker called server.listen() on a port that is taken (the master's?): a dispatched worker does not listen, it calls adoptConnections(server)";
  }
  if (/Cannot find module|ERR_MODULE_NOT_FOUND|ENOENT/.test(failure.stderr))
    return "check the pool's command and args: the worker's program or one of its modules was not found";
  if (failure.timedOut)
    return 'the worker never called adoptConnections(server): is it the right script, and does it get that far?';
  if (failure.exitCode === 0) return 'the worker exited normally before it called adoptConnections(server)';
  return undefined;
}
