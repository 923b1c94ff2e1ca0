/**
 * serveTcpmux(): a TCPMUX server (RFC 1078). A client connects, sends a service name and CRLF; the server
 * answers `-` with a reason and closes, lists the registered names for `HELP`, or hands the connection,
 * with every byte the client sent after the name line, to a process registered for the name (which writes
 * the `+` line: see register-service.ts for why the registrant and not this server).
 *
 * Everything a client controls is bounded: the name's length (`maxNameLength`), the time it may take to
 * send it (`nameTimeoutMs`), the connections held at once (`maxConnections`; beyond it a client gets
 * `-` at once), and how long an answered client may keep its connection open. Nothing a client sends ends
 * the server: the nanomsg daemon this replaces died on a 256-byte name.
 *
 * Why its own accept loop and not acceptAndDispatch()'s: every connection needs an answer written by this
 * process whenever it is not handed off (unknown name, a deadline, registrants gone), the bytes handed over
 * are not the bytes read (the name line is consumed), and the services are registered while it runs. The
 * reading is the dispatcher's own bounded preview (readPreview), the handoff is the transport layer's, and
 * the registry's sets are the dispatcher's WorkerSets, so a dispatcher's route() can reach the same services.
 * It reads the name line through the net.Socket rather than peeking at it as the dispatcher's route() does
 * (src/dispatch/peek-preview.ts): its connections come from a net.Server and stay net.Sockets here (a `-`
 * answer is written on them, and the bounds on held connections count their 'close'), so peeking would spare
 * a read and a copy of a few bytes, not the Node object the dispatcher's fast path exists to avoid.
 * @module
 */
import net from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { readPreview, readProxyHeader, type ProxyHeader } from '../dispatch/index.js';
import { PortunusError, type PortunusErrorCode } from '../errors.js';
import { distributeTransport } from '../transport/index.js';
import {
  validateBoolean,
  validateInstance,
  validateInteger,
  validateObject,
  validateOptions,
  validateTimeout,
} from '../validate.js';
import { hasLineEnd, parseNameLine } from './name-line.js';
import { HELP, MAX_SERVICE_NAME_LENGTH } from './service-name.js';
import { ServiceRegistry, type Registrant } from './service-registry.js';
import type { TcpmuxHandoffMetadata } from './register-service.js';

/** Options of `serveTcpmux()`. Times are in milliseconds. */
export interface TcpmuxServerOptions {
  /** TCP listen options (port 0 for any; RFC 1078's port is 1). */
  listen: net.ListenOptions;
  /** The services (from `openServiceRegistry()`); the server looks names up in it and never closes it. */
  registry: ServiceRegistry;
  /** Longest service name accepted, in bytes (the line without its CRLF). Default 128, at most 255. */
  maxNameLength?: number;
  /** How long a client may take to send the whole name line. Default 5000. */
  nameTimeoutMs?: number;
  /**
   * How long a registrant may take to acknowledge a connection. One that misses it is not adopting: its
   * registration is ended and that connection is answered `-` (the registrant may still hold a copy, so it
   * is not handed to a second process). Default 5000.
   */
  ackTimeoutMs?: number;
  /**
   * Connections held at once: being read, being handed over, or answered and not yet closed by the client.
   * A client beyond it is answered `-` and closed (past twice as many, closed without an answer). Default 1024.
   */
  maxConnections?: number;
  /** Answer `HELP` with the registered names, one per line. Default true; false answers it `-`. */
  help?: boolean;
  /**
   * Every connection starts with a PROXY protocol header (v1 or v2), read and removed before the name line
   * (within `nameTimeoutMs`); the registrant finds it with `proxyHeaderOf(socket)`. A missing, malformed or
   * late header closes the connection without an answer (`stats().proxyProtocolErrors`). Default false.
   */
  acceptProxyProtocol?: boolean;
}

/** A snapshot of a tcpmux server's counters, from `TcpmuxServer.stats()`. */
export interface TcpmuxStats {
  /** Connections accepted. */
  accepted: number;
  /** Connections a registrant adopted and acknowledged. */
  handedOff: number;
  /** Handoffs that failed (the registrant went away, refused, or missed its deadline). */
  retried: number;
  /** Connections answered `-`. */
  refused: number;
  /** `HELP` requests answered with the list. */
  help: number;
  /** Connections held now (see `maxConnections`). */
  held: number;
  /** Connections closed because their PROXY protocol header was missing, malformed or late. */
  proxyProtocolErrors: number;
}

/** Events of a {@link TcpmuxServer}, with their listener arguments. */
export interface TcpmuxServerEvents {
  /** A registrant adopted a connection for `name`. */
  handoff: [
    event: {
      /** The service name, in lower case. */
      name: string;
      /** The process that adopted the connection. */
      registrant: Registrant;
    },
  ];
  /**
   * A connection was answered `-` (and closed). `name` is the name it asked for, if it got that far;
   * `error.code` says why (ERR_PORTUNUS_UNKNOWN_SERVICE, ERR_PORTUNUS_NAME_TIMEOUT…).
   */
  refuse: [
    event: {
      /** The name the client asked for, if it sent one. */
      name: string | undefined;
      /** Why: its code says which answer the client got. */
      error: PortunusError;
    },
  ];
  /**
   * A registrant failed to adopt a connection (it went away, refused it, or missed `ackTimeoutMs`); the
   * connection goes to another one or is answered `-`.
   */
  retry: [
    event: {
      /** The service name, in lower case. */
      name: string;
      /** The process that did not take the connection. */
      registrant: Registrant;
      /** How it failed (ERR_PORTUNUS_CHANNEL_CLOSED when it went away). */
      error: Error;
    },
  ];
  /** The listening socket failed after it was opened. */
  error: [error: Error];
}

/** After an answer, how long the client has to close its end before the server closes the connection. */
const LINGER_MS = 1000;

/** A TCPMUX server; see `serveTcpmux()`. */
export class TcpmuxServer extends EventEmitter<TcpmuxServerEvents> {
  readonly #server: net.Server;
  readonly #registry: ServiceRegistry;
  readonly #maxNameLength: number;
  readonly #nameTimeoutMs: number;
  readonly #ackTimeoutMs: number;
  readonly #maxConnections: number;
  readonly #help: boolean;
  /** Every connection this process holds: until it is handed off, or closed after its answer. */
  readonly #held = new Set<net.Socket>();
  /** Connections answered `-` at once for want of room (see `maxConnections`), until they close. */
  readonly #turnedAway = new Set<net.Socket>();
  /** Connections whose name is being read: close() ends them. */
  readonly #reading = new Set<net.Socket>();
  readonly #counters = { accepted: 0, handedOff: 0, retried: 0, refused: 0, help: 0, proxyProtocolErrors: 0 };
  readonly #acceptProxyProtocol: boolean;
  #closed = false;
  #idleWaiters: Array<() => void> = [];

  /** @internal Use `serveTcpmux()`. */
  constructor(server: net.Server, options: ResolvedTcpmuxOptions) {
    super();
    this.#server = server;
    this.#registry = options.registry;
    this.#maxNameLength = options.maxNameLength;
    this.#nameTimeoutMs = options.nameTimeoutMs;
    this.#ackTimeoutMs = options.ackTimeoutMs;
    this.#maxConnections = options.maxConnections;
    this.#help = options.help;
    this.#acceptProxyProtocol = options.acceptProxyProtocol;
    server.on('connection', (socket) => this.#accept(socket));
    server.on('error', (error) => this.emit('error', error));
  }

  /** The address the server listens on. */
  address(): net.AddressInfo {
    return this.#server.address() as net.AddressInfo;
  }

  /** Counters, as a snapshot. */
  stats(): TcpmuxStats {
    return { ...this.#counters, held: this.#held.size };
  }

  /**
   * Stops accepting and closes the listening socket. Connections still sending their name are closed;
   * handoffs under way finish (adopted, or answered `-`). Resolves once the server holds no connection.
   * The registry is not closed. Idempotent.
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#server.close();
      for (const socket of this.#reading) socket.destroy();
      for (const socket of this.#turnedAway) socket.destroy();
    }
    if (this.#held.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #accept(socket: net.Socket): void {
    this.#counters.accepted++;
    // A reset client surfaces as the end of its connection, never as an error of this process.
    socket.on('error', () => {});
    if (this.#held.size >= this.#maxConnections) {
      // The path a flood takes. Answered like any refusal while a second allowance of maxConnections lasts
      // (closing at once, with the client's name unread, would send a reset that can destroy the answer);
      // past that, closed without an answer: nothing a client does can make the server hold more.
      this.#refuse(undefined, 'ERR_PORTUNUS_MUX_BUSY', 'too many connections, try again later');
      if (this.#turnedAway.size >= this.#maxConnections) {
        socket.destroy();
        return;
      }
      this.#turnedAway.add(socket);
      socket.once('close', () => this.#turnedAway.delete(socket));
      this.#close(socket, '-too many connections, try again later\r\n');
      return;
    }
    this.#held.add(socket);
    socket.once('close', () => {
      this.#held.delete(socket);
      this.#checkIdle();
    });
    this.#reading.add(socket);
    const started = Date.now();
    const header: Promise<{ proxy: ProxyHeader | undefined; rest: Buffer | undefined }> = this.#acceptProxyProtocol
      ? readProxyHeader(socket, this.#nameTimeoutMs)
      : Promise.resolve({ proxy: undefined, rest: undefined });
    header
      .then(async ({ proxy, rest }) => {
        // The header and the name line share one deadline.
        const timeoutMs = Math.max(1, this.#nameTimeoutMs - (Date.now() - started));
        const preview = await readPreview(
          socket,
          { maxBytes: this.#maxNameLength + 2, timeoutMs, complete: hasLineEnd },
          rest,
        );
        return { preview, proxy };
      })
      .then(
        ({ preview, proxy }) => {
          this.#reading.delete(socket);
          const line = parseNameLine(preview.bytes, this.#maxNameLength);
          if (line.kind === 'name') this.#serveName(socket, line.name, line.rest, proxy);
          else if (line.kind === 'too-long')
            this.#answer(socket, undefined, 'ERR_PORTUNUS_BAD_SERVICE_NAME', 'service name too long');
          else if (line.kind === 'invalid')
            this.#answer(socket, undefined, 'ERR_PORTUNUS_BAD_SERVICE_NAME', 'not a service name');
          else if (preview.timedOut)
            this.#answer(socket, undefined, 'ERR_PORTUNUS_NAME_TIMEOUT', 'timed out waiting for the service name');
          else this.#answer(socket, undefined, 'ERR_PORTUNUS_BAD_SERVICE_NAME', 'no line end before end of stream');
        },
        (error: PortunusError) => {
          // A bad PROXY header, or the client reset the connection (or close() ended it) before its name was
          // complete. Closed without an answer: whoever sent a bad header is not a tcpmux client to answer.
          if (error?.code === 'ERR_PORTUNUS_PROXY_PROTOCOL') {
            this.#counters.proxyProtocolErrors++;
            this.emit('refuse', { name: undefined, error });
          }
          this.#reading.delete(socket);
          socket.destroy();
        },
      );
    // Accepted paused (nothing is read before the preview's listeners are in place): start reading now.
    socket.resume();
  }

  #serveName(socket: net.Socket, name: string, rest: Buffer, proxy: ProxyHeader | undefined): void {
    if (name === HELP) {
      if (!this.#help) {
        this.#answer(socket, name, 'ERR_PORTUNUS_UNKNOWN_SERVICE', 'HELP is not offered here');
        return;
      }
      this.#counters.help++;
      const names = this.#registry.names();
      this.#close(socket, names.map((registered) => `${registered}\r\n`).join(''));
      return;
    }
    void this.#handOff(socket, name, rest, proxy);
  }

  /**
   * Hands the connection to the name's registrants in turn until one adopts it; answers `-` when none is
   * left. The socket stays this process's, intact, after every failed attempt (distributeTransport's
   * contract), which is what lets the next registrant have it.
   *
   * A registrant whose channel closed before it acknowledged holds no copy (its process is gone, or its
   * session closed what it had not adopted), so the next one may have the connection. One that is alive but
   * misses `ackTimeoutMs` is different: its registration is ended, but it may still hold a copy, and handing
   * the stream to a second process could let two read it. Unlike the dispatcher (whose pool kills such a
   * worker before redispatching), the registry cannot end another user's process, so that connection is
   * answered `-` instead.
   */
  async #handOff(socket: net.Socket, name: string, rest: Buffer, proxy: ProxyHeader | undefined): Promise<void> {
    const set = this.#registry.lookup(name);
    const tried = new Set<Registrant>();
    const metadata: TcpmuxHandoffMetadata = proxy === undefined ? { tcpmux: name } : { tcpmux: name, proxy };
    const options = rest.length > 0 ? { metadata, preRead: rest } : { metadata };
    let timedOut = false;
    while (!timedOut && !socket.destroyed) {
      const registrant = set?.pick(tried);
      if (registrant === undefined) break;
      tried.add(registrant);
      registrant.inFlight++;
      const deadline = setTimeout(() => {
        timedOut = true;
        set!.reportUnhealthy(
          registrant,
          new PortunusError(
            'ERR_PORTUNUS_ACK_TIMEOUT',
            `registrant ${registrant.id} of ${JSON.stringify(name)} did not acknowledge within ${this.#ackTimeoutMs} ms`,
          ),
        );
      }, this.#ackTimeoutMs);
      try {
        await distributeTransport(registrant.channel, socket, options);
        registrant.handedOff++;
        this.#counters.handedOff++;
        this.emit('handoff', { name, registrant });
        return;
      } catch (error) {
        this.#counters.retried++;
        this.emit('retry', { name, registrant, error: error as Error });
      } finally {
        clearTimeout(deadline);
        registrant.inFlight--;
      }
    }
    if (tried.size === 0 && (set === undefined || set.available().length === 0))
      this.#answer(socket, name, 'ERR_PORTUNUS_UNKNOWN_SERVICE', 'unknown service');
    else this.#answer(socket, name, 'ERR_PORTUNUS_SERVICE_UNAVAILABLE', 'service unavailable, try again later');
  }

  /** Answers `-reason` and closes. */
  #answer(socket: net.Socket, name: string | undefined, code: PortunusErrorCode, reason: string): void {
    this.#refuse(name, code, reason);
    this.#close(socket, `-${reason}\r\n`);
  }

  #refuse(name: string | undefined, code: PortunusErrorCode, reason: string): void {
    this.#counters.refused++;
    this.emit('refuse', { name, error: new PortunusError(code, reason, name === undefined ? {} : { name }) });
  }

  /**
   * Writes the last bytes and ends the connection, then reads and discards what the client still sends until
   * it closes its end: closing with unread bytes would send a reset, which can destroy the answer before
   * the client reads it. A client that does not close within LINGER_MS is closed on.
   */
  #close(socket: net.Socket, text: string): void {
    socket.end(text);
    socket.resume();
    const timer = setTimeout(() => socket.destroy(), Math.min(LINGER_MS, this.#nameTimeoutMs));
    socket.once('close', () => clearTimeout(timer));
  }

  #checkIdle(): void {
    if (this.#held.size > 0) return;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }
}

interface ResolvedTcpmuxOptions {
  registry: ServiceRegistry;
  maxNameLength: number;
  nameTimeoutMs: number;
  ackTimeoutMs: number;
  maxConnections: number;
  help: boolean;
  acceptProxyProtocol: boolean;
}

/**
 * Serves TCPMUX on `options.listen` for the services of `options.registry`. Options are checked
 * synchronously (invalid ones throw); the promise resolves once the server listens and rejects when the
 * port cannot be had (EADDRINUSE…). Ownership: the server owns its listening socket and every connection
 * until a registrant acknowledged it; `close()` releases them. The registry stays the caller's.
 */
export function serveTcpmux(options: TcpmuxServerOptions): Promise<TcpmuxServer> {
  const resolved = resolveTcpmuxOptions(options);
  const server = net.createServer({ pauseOnConnect: true });
  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Outside the promise: Node's own checks of the listen options throw to the caller.
  server.listen(options.listen);
  return listening.then(() => new TcpmuxServer(server, resolved));
}

function resolveTcpmuxOptions(options: TcpmuxServerOptions): ResolvedTcpmuxOptions {
  validateObject(options, 'options');
  validateObject(options.listen, 'options.listen', 'TCP listen options ({ host, port })');
  if (options.listen.path !== undefined)
    throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', 'serveTcpmux listens on TCP, not on a Unix socket path');
  if (options.listen.port !== undefined) validateInteger(options.listen.port, 'options.listen.port', 0, 65535);
  validateInstance(options.registry, 'options.registry', ServiceRegistry, 'a ServiceRegistry');
  const given = validateOptions(options);
  const maxNameLength = given.maxNameLength ?? 128;
  validateInteger(maxNameLength, 'options.maxNameLength', 1, MAX_SERVICE_NAME_LENGTH);
  const nameTimeoutMs = given.nameTimeoutMs ?? 5000;
  validateTimeout(nameTimeoutMs, 'options.nameTimeoutMs');
  const ackTimeoutMs = given.ackTimeoutMs ?? 5000;
  validateTimeout(ackTimeoutMs, 'options.ackTimeoutMs');
  const maxConnections = given.maxConnections ?? 1024;
  validateInteger(maxConnections, 'options.maxConnections', 1);
  const help = given.help ?? true;
  validateBoolean(help, 'options.help');
  const acceptProxyProtocol = given.acceptProxyProtocol ?? false;
  validateBoolean(acceptProxyProtocol, 'options.acceptProxyProtocol');
  return {
    registry: options.registry,
    maxNameLength,
    nameTimeoutMs,
    ackTimeoutMs,
    maxConnections,
    help,
    acceptProxyProtocol,
  };
}
