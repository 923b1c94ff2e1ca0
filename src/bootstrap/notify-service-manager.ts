/**
 * notifyServiceManager(): the sending half of sd_notify(3). A service that systemd started with `Type=notify`
 * finds a Unix datagram socket's address in NOTIFY_SOCKET and tells systemd there that it is ready, what it
 * is doing, that it is stopping, or that its main process is now another one (what a master that upgrades
 * itself needs, or systemd takes the old master's exit for the service's end). Each message is one datagram
 * of `KEY=value` lines; systemd learns who sent it from the kernel (SCM_CREDENTIALS), not from the message.
 * @module
 */
import { fdBackend } from '../binding/index.js';
import { invalidArgument } from '../errors.js';
import { validateOptions } from '../validate.js';

/** The environment variable systemd names its notification socket in. */
export const NOTIFY_SOCKET_ENV = 'NOTIFY_SOCKET';

/** What a service tells its service manager: the sd_notify(3) assignments portunus knows. */
export interface ServiceManagerState {
  /** `READY=1`: start-up is finished (systemd holds units ordered after this one until then). */
  ready?: boolean;
  /** `STOPPING=1`: the service is shutting down. */
  stopping?: boolean;
  /** `STATUS=…`: one line of text for `systemctl status`. */
  status?: string;
  /** `MAINPID=…`: the service's main process is this one from now on (a new master after an upgrade). */
  mainPid?: number;
}

/**
 * Sends `state` to the service manager named by NOTIFY_SOCKET in `env` (a socket path, or `@name` for a Linux
 * abstract name), as sd_notify(3) does. Returns false, sending nothing, when there is none (the process was
 * not started by systemd with `Type=notify`, or the platform has no Unix datagram sockets); true once sent.
 * Never waits. Throws ERR_INVALID_ARG_* for a state with nothing to say or a multi-line status, and the
 * SystemError of sendto when the socket refuses the message (ECONNREFUSED, ENOENT: the manager is gone).
 */
export function notifyServiceManager(state: ServiceManagerState, env: NodeJS.ProcessEnv = process.env): boolean {
  const message = encodeState(state);
  const address = env[NOTIFY_SOCKET_ENV];
  if (address === undefined || address === '' || fdBackend.sendDatagram === undefined) return false;
  // sd_notify(3): a leading '@' stands for the NUL that starts an abstract name.
  const name = Buffer.from(address.startsWith('@') ? `\0${address.slice(1)}` : address);
  fdBackend.sendDatagram(name, Buffer.from(message));
  return true;
}

function encodeState(state: ServiceManagerState): string {
  const given = validateOptions(state, 'state');
  const lines: string[] = [];
  if (given.mainPid !== undefined) {
    if (!Number.isInteger(given.mainPid) || given.mainPid <= 0)
      throw invalidArgument(
        'state.mainPid',
        'a process id (a positive integer)',
        given.mainPid,
        typeof given.mainPid === 'number' ? 'value' : 'type',
      );
    lines.push(`MAINPID=${given.mainPid}`);
  }
  if (given.ready === true) lines.push('READY=1');
  if (given.stopping === true) lines.push('STOPPING=1');
  if (given.status !== undefined) {
    if (typeof given.status !== 'string') throw invalidArgument('state.status', 'a string', given.status);
    if (/[\n\0]/.test(given.status)) throw invalidArgument('state.status', 'one line of text', given.status, 'value');
    lines.push(`STATUS=${given.status}`);
  }
  if (lines.length === 0)
    throw invalidArgument('state', 'at least one of ready, stopping, status or mainPid to send', state, 'value');
  return `${lines.join('\n')}\n`;
}
