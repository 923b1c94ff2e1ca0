/**
 * The client side of TCPMUX (RFC 1078): connectTcpmux() asks a server for a service and returns the
 * connection once it answered `+`; listTcpmuxServices() asks for `HELP`. Either works with any RFC 1078
 * server, and the reply may carry an explanation after `+` or `-` (the nanomsg client insisted on exactly
 * `+\r\n`).
 * @module
 */
import net from 'node:net';
import { PortunusError } from '../errors.js';
import { validateInteger, validateObject, validateString, validateTimeout } from '../validate.js';
import { HELP, validateServiceName } from './service-name.js';

/** Where the tcpmux server is, and how long to wait for it. */
export interface TcpmuxClientOptions {
  /** The server's port. */
  port: number;
  /** The server's host. Default '127.0.0.1'. */
  host?: string;
  /** How long the server may take to connect and answer, in ms. Default 10 000. */
  timeoutMs?: number;
}

/** Longest answer line read, in bytes: a `+`/`-` and a sentence. */
const MAX_REPLY_LINE = 1024;
/** Longest `HELP` list read, in bytes. */
const MAX_HELP_BYTES = 1 << 20;

/**
 * Connects to the tcpmux server, asks for `service` and resolves with the connection after the `+` line:
 * the service's protocol starts there (bytes the service sent right after `+` are kept for the caller to
 * read). Rejects with ERR_PORTUNUS_SERVICE_REFUSED after a `-` (`error.reply` is the server's reason),
 * ERR_PORTUNUS_BAD_REPLY if the server closed without answering or answered something else,
 * ERR_PORTUNUS_REPLY_TIMEOUT, or the connect error (ECONNREFUSED…); the connection is closed then.
 * Ownership: the resolved socket is the caller's.
 */
export function connectTcpmux(service: string, options: TcpmuxClientOptions): Promise<net.Socket> {
  const name = validateServiceName(service, 'service');
  const { host, port, timeoutMs } = resolveClientOptions(options);
  return exchange(host, port, timeoutMs, name, (socket, bytes, ended) => {
    const end = bytes.indexOf(0x0a);
    if (end < 0) {
      if (bytes.length > MAX_REPLY_LINE) return badReply('an answer line longer than 1024 bytes');
      return ended ? badReply('the server closed the connection without answering') : undefined;
    }
    const line = bytes.toString('latin1', 0, end > 0 && bytes[end - 1] === 0x0d ? end - 1 : end);
    if (line.startsWith('+')) {
      const rest = bytes.subarray(end + 1);
      if (rest.length > 0) socket.unshift(rest);
      return { socket };
    }
    if (line.startsWith('-'))
      return new PortunusError(
        'ERR_PORTUNUS_SERVICE_REFUSED',
        `the tcpmux server refused ${JSON.stringify(name)}: ${line.slice(1).trim() || '(no reason given)'}`,
        { service: name, reply: line.slice(1).trim() },
      );
    return badReply(`an answer that is neither + nor -: ${JSON.stringify(line.slice(0, 64))}`);
  }).then((result) => result.socket);
}

/**
 * Asks the tcpmux server for `HELP` and resolves with the service names it lists (one per line, until it
 * closes the connection). Rejects as `connectTcpmux()` does; ERR_PORTUNUS_SERVICE_REFUSED if the server
 * answers `-` (it does not offer HELP).
 */
export function listTcpmuxServices(options: TcpmuxClientOptions): Promise<string[]> {
  const { host, port, timeoutMs } = resolveClientOptions(options);
  return exchange(host, port, timeoutMs, HELP, (socket, bytes, ended) => {
    if (bytes.length > MAX_HELP_BYTES) return badReply('a HELP list longer than 1 MiB');
    if (bytes[0] === 0x2d /* - */ && bytes.includes(0x0a)) {
      const line = bytes.toString('latin1', 1, bytes.indexOf(0x0a)).trim();
      return new PortunusError('ERR_PORTUNUS_SERVICE_REFUSED', `the tcpmux server refused HELP: ${line}`, {
        service: HELP,
        reply: line,
      });
    }
    if (!ended) return undefined;
    socket.destroy();
    return {
      names: bytes
        .toString('latin1')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line.length > 0),
    };
  }).then((result) => result.names);
}

function badReply(what: string): PortunusError {
  return new PortunusError('ERR_PORTUNUS_BAD_REPLY', `tcpmux server sent ${what}`);
}

function resolveClientOptions(options: TcpmuxClientOptions): { host: string; port: number; timeoutMs: number } {
  validateObject(options, 'options');
  validateInteger(options.port, 'options.port', 1, 65535);
  const host = options.host ?? '127.0.0.1';
  validateString(host, 'options.host', { nonEmpty: true });
  const timeoutMs = options.timeoutMs ?? 10_000;
  validateTimeout(timeoutMs, 'options.timeoutMs');
  return { host, port: options.port, timeoutMs };
}

/**
 * Connects, sends `name` and CRLF, and feeds what arrives to `decide` (with `ended` once the server closed)
 * until it returns a result or an error. Reads with 'readable' and read(), so that the socket handed to the
 * caller is in neither mode: the caller's first 'data' listener starts it, and nothing is lost before.
 */
function exchange<T extends object>(
  host: string,
  port: number,
  timeoutMs: number,
  name: string,
  decide: (socket: net.Socket, bytes: Buffer, ended: boolean) => T | PortunusError | undefined,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const socket = net.connect({ host, port });
    let bytes: Buffer = Buffer.alloc(0);
    const finish = (outcome: T | Error) => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('error', finish);
      if (outcome instanceof Error) {
        socket.destroy();
        reject(outcome);
      } else resolve(outcome);
    };
    const step = (ended: boolean) => {
      const outcome = decide(socket, bytes, ended);
      if (outcome !== undefined) finish(outcome);
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        bytes = bytes.length === 0 ? chunk : Buffer.concat([bytes, chunk]);
        // The reply may end within this chunk: stop reading there, so nothing meant for the caller is taken.
        const before = socket.listenerCount('readable');
        step(false);
        if (socket.listenerCount('readable') < before) return;
      }
    };
    const onEnd = () => step(true);
    const timer = setTimeout(
      () =>
        finish(
          new PortunusError('ERR_PORTUNUS_REPLY_TIMEOUT', `the tcpmux server did not answer within ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
    socket.once('error', finish);
    socket.write(`${name}\r\n`);
  });
}
