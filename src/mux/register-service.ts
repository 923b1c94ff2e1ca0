/**
 * registerService(): the registrant's side of a service registry. The process connects to the registry's
 * socket (checking that the registry runs as a trusted uid), asks for one name, and from then on receives
 * that name's connections on the channel, each with the bytes the client already sent after the name.
 *
 * When `+` is written. For a tcpmux connection the registrant, not the tcpmux server, writes RFC 1078's `+`
 * line, right after it has adopted the socket and queued its acknowledgement, and before the application
 * sees the socket. So a client reads `+` only from a process that holds its connection and serves it: a
 * registrant that dies before adopting leaves the connection with the tcpmux server, which hands it to
 * another registrant or answers `-`; and no `+` can arrive after the service's own first bytes.
 * @module
 */
import net from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { connectChannel, type Channel, type PeerAllow } from '../channel/index.js';
import { recordProxyHeader, type ProxyHeader } from '../dispatch/index.js';
import { PortunusError, invalidArgument } from '../errors.js';
import { releaseAdopted, type Adopted } from '../transport/index.js';
import { validateObject, validateString, validateTimeout } from '../validate.js';
import { decodeMuxPayload, encodeMuxPayload, MuxFrame } from './frames.js';
import { validateServiceName } from './service-name.js';

/** Serves one connection of a registered service. It owns the socket (as a net.Server's listener would). */
export type ServiceHandler = (socket: net.Socket) => void;

/** Options of `registerService()`. */
export interface RegisterServiceOptions {
  /** The registry's socket path or abstract name (the `path` of `openServiceRegistry()`). */
  registry: string;
  /** Which uids the registry process may run as. Default: this process's own uid. */
  allow?: PeerAllow;
  /** How long to wait for the registry's answer, in ms. Default 10 000. */
  timeoutMs?: number;
}

/** Events of a {@link ServiceRegistration}, with their listener arguments. */
export interface ServiceRegistrationEvents {
  /** A connection was adopted and handed to the service (after its `+` line, for a tcpmux client). */
  connection: [socket: net.Socket];
  /**
   * The registration ended: `close()` was called, or the registry closed or went away (with the reason).
   * Connections already adopted stay open; no new ones come.
   */
  close: [error: Error | undefined];
  /** Something went wrong that did not end the registration (a transport of a kind a service cannot serve). */
  warning: [error: PortunusError];
}

/** The marker the tcpmux server puts in a handoff's metadata: the registrant writes the `+` line. */
export interface TcpmuxHandoffMetadata {
  /** The service name the client asked for, in lower case. */
  tcpmux: string;
  /** The PROXY protocol header the connection came with (`acceptProxyProtocol`), for `proxyHeaderOf()`. */
  proxy?: ProxyHeader;
}

/** RFC 1078's positive answer: the service's own protocol starts after it. */
const ACCEPTED_LINE = '+\r\n';

/** A process's registration of one service name; `registerService()` returns it. */
export class ServiceRegistration extends EventEmitter<ServiceRegistrationEvents> {
  /** The registered name, in lower case. */
  readonly name: string;
  readonly #channel: Channel;
  readonly #serve: ServiceHandler;
  #adopted = 0;

  /** @internal Use `registerService()`. */
  constructor(name: string, channel: Channel, serve: ServiceHandler) {
    super();
    this.name = name;
    this.#channel = channel;
    this.#serve = serve;
    channel.on('transport', (adopted) => this.#adopt(adopted));
    channel.on('warning', (error) => this.emit('warning', error));
    let failure: Error | undefined;
    channel.on('error', (error) => (failure = error));
    channel.once('close', () => this.emit('close', failure));
  }

  /** Connections adopted since registering. */
  get adopted(): number {
    return this.#adopted;
  }

  /** True once the registration ended. */
  get isClosed(): boolean {
    return this.#channel.isClosed;
  }

  /**
   * Unregisters: closes the registration channel. Handoffs not yet adopted go back to the registry (to
   * another registrant, or a `-` answer); adopted connections stay open and the service's. Idempotent.
   */
  close(): Promise<void> {
    return this.#channel.close();
  }

  #adopt(adopted: Adopted): void {
    if (adopted.kind !== 'tcp' && adopted.kind !== 'unix') {
      releaseAdopted(adopted);
      this.emit(
        'warning',
        new PortunusError('ERR_PORTUNUS_UNSUPPORTED', `a service serves connections; a '${adopted.kind}' was closed`),
      );
      return;
    }
    const socket = adopted.socket;
    this.#adopted++;
    // A connection that came through a PROXY header (the tcpmux server's or a dispatcher's
    // acceptProxyProtocol): proxyHeaderOf(socket) tells the service who the real client is.
    recordProxyHeader(socket, adopted.metadata);
    if (typeof (adopted.metadata as Partial<TcpmuxHandoffMetadata> | undefined)?.tcpmux === 'string')
      socket.write(ACCEPTED_LINE);
    this.emit('connection', socket);
    this.#serve(socket);
  }
}

/**
 * Registers this process as a server of `name` (case-insensitive) with the registry at `options.registry`.
 * `service` gets each connection: a function, or a net.Server (http.Server, tls.Server…; it need not listen)
 * that receives it as a `'connection'`. Resolves once the registry accepted the name; rejects with
 * ERR_PORTUNUS_REGISTRATION_REFUSED (the registry's policy said no, the name is reserved or held by another
 * uid), ERR_PORTUNUS_REGISTER_TIMEOUT, or the error connecting (ENOENT, ERR_PORTUNUS_PEER_REFUSED…).
 * Arguments are checked synchronously. Ownership: the registration owns its channel (`close()` ends it);
 * each adopted socket is the service's.
 */
export function registerService(
  name: string,
  service: net.Server | ServiceHandler,
  options: RegisterServiceOptions,
): Promise<ServiceRegistration> {
  const key = validateServiceName(name, 'name');
  const serve = serviceHandler(service);
  validateObject(options, 'options');
  validateString(options.registry, 'options.registry', { nonEmpty: true });
  const timeoutMs = options.timeoutMs ?? 10_000;
  validateTimeout(timeoutMs, 'options.timeoutMs');
  return connectChannel(options.registry, options.allow === undefined ? {} : { allow: options.allow }).then((channel) =>
    register(channel, key, serve, timeoutMs),
  );
}

function serviceHandler(service: unknown): ServiceHandler {
  if (service instanceof net.Server) return (socket) => service.emit('connection', socket);
  if (typeof service === 'function') return service as ServiceHandler;
  throw invalidArgument('service', 'a net.Server or a function', service);
}

function register(channel: Channel, name: string, serve: ServiceHandler, timeoutMs: number) {
  return new Promise<ServiceRegistration>((resolve, reject) => {
    // Settles first, then closes: destroy() emits 'close' at once, which must not be taken for the answer.
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
      channel.destroy();
    };
    const timer = setTimeout(
      () =>
        fail(new PortunusError('ERR_PORTUNUS_REGISTER_TIMEOUT', `the registry did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onClose = () =>
      fail(new PortunusError('ERR_PORTUNUS_CHANNEL_CLOSED', 'the registry closed the channel before answering'));
    channel.once('close', onClose);
    channel.extend({
      name: 'registerService',
      frames: {
        [MuxFrame.REGISTERED]: () => {
          clearTimeout(timer);
          channel.off('close', onClose);
          resolve(new ServiceRegistration(name, channel, serve));
        },
        [MuxFrame.REFUSED]: (message) => {
          let refusal: { code: string; message: string };
          try {
            refusal = decodeMuxPayload(message.payload, ['code', 'message']);
          } catch (error) {
            fail(error as Error);
            return;
          }
          fail(
            new PortunusError('ERR_PORTUNUS_REGISTRATION_REFUSED', refusal.message, {
              name,
              registryCode: refusal.code,
            }),
          );
        },
      },
    });
    channel.writeFrame(MuxFrame.REGISTER, encodeMuxPayload({ name }), []);
  });
}
