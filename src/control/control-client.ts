/**
 * requestControl(): sends one command to a control socket and resolves with its answer. Used by
 * `portunus ctl`; any program can do the same with one line over a Unix socket (docs/control.md).
 * @module
 */
import net from 'node:net';
import { checkSocketAddress } from '../channel/index.js';
import { PortunusError } from '../errors.js';
import { validateOptions, validateString, validateTimeout } from '../validate.js';
import type { ControlResponse } from './control-server.js';

/** Longest answer read (the metrics of a large pool fit many times over). */
const MAX_ANSWER_BYTES = 16 << 20;

/** Options of `requestControl()`. */
export interface ControlRequestOptions {
  /** How long to wait for the answer, in ms (a restart waits for a new generation to be ready). Default 60 000. */
  timeoutMs?: number;
}

/**
 * Sends `command` (one line, such as 'spawn-workers 2') to the control socket at `socketPath` and resolves
 * with the answer. Rejects with the OS error when the socket cannot be reached (ENOENT, ECONNREFUSED, EACCES),
 * ERR_PORTUNUS_BAD_FRAME for an answer that is not one line of JSON, ERR_PORTUNUS_CHANNEL_CLOSED when the
 * connection ends without one, ERR_PORTUNUS_CLOSE_TIMEOUT after `timeoutMs`. An error answered by the master
 * resolves, as `{ ok: false, error }`.
 */
export function requestControl(
  socketPath: string,
  command: string,
  options: ControlRequestOptions = {},
): Promise<ControlResponse> {
  checkSocketAddress(socketPath, 'socketPath');
  validateString(command, 'command', { nonEmpty: true });
  const timeoutMs = validateOptions(options).timeoutMs ?? 60_000;
  validateTimeout(timeoutMs, 'options.timeoutMs');
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const chunks: Buffer[] = [];
    let bytes = 0;
    let settled = false;
    const settle = (error: Error | undefined, response?: ControlResponse) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error !== undefined) reject(error);
      else resolve(response!);
    };
    socket.setTimeout(timeoutMs, () =>
      settle(new PortunusError('ERR_PORTUNUS_CLOSE_TIMEOUT', `no answer from ${socketPath} within ${timeoutMs} ms`)),
    );
    socket.on('error', (error) => settle(error));
    socket.on('data', (chunk: Buffer) => {
      const newline = chunk.indexOf(10);
      chunks.push(newline === -1 ? chunk : chunk.subarray(0, newline));
      bytes += chunk.length;
      if (newline === -1 && bytes <= MAX_ANSWER_BYTES) return;
      settle(...parse(Buffer.concat(chunks)));
    });
    socket.on('end', () =>
      settle(new PortunusError('ERR_PORTUNUS_CHANNEL_CLOSED', `${socketPath} closed the connection without answering`)),
    );
    socket.end(`${command.replace(/\n/g, ' ')}\n`);
  });
}

function parse(line: Buffer): [Error | undefined, ControlResponse?] {
  try {
    const response = JSON.parse(line.toString('utf8')) as ControlResponse;
    if (typeof response === 'object' && response !== null && typeof response.ok === 'boolean')
      return [undefined, response];
  } catch {
    // Answered below.
  }
  return [
    new PortunusError('ERR_PORTUNUS_BAD_FRAME', 'the control socket answered something that is not a control answer'),
  ];
}
