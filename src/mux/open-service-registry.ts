/**
 * openServiceRegistry(): a {@link ServiceRegistry} that processes join over a credential-checked channel.
 * Each connecting process is checked by its kernel-recorded uid before it may say anything (the channel
 * layer's listenChannel()), then has `registerTimeoutMs` to send one REGISTER frame; the registry's policy
 * decides, and the answer is REGISTERED (the channel stays open and carries connections from then on) or
 * REFUSED followed by the end of the channel.
 * @module
 */
import { listenChannel, type Channel, type ChannelServer, type PeerAllow } from '../channel/index.js';
import { PortunusError } from '../errors.js';
import { validateObject, validateString, validateTimeout } from '../validate.js';
import { decodeMuxPayload, encodeMuxPayload, MuxFrame } from './frames.js';
import { ServiceRegistry, type ServiceRegistryOptions } from './service-registry.js';

/** Options of `openServiceRegistry()`. */
export interface OpenServiceRegistryOptions extends ServiceRegistryOptions {
  /**
   * Where registrants connect: a socket path (its directory is made 0700 if missing, the socket file is
   * 0600) or a Linux abstract name starting with "\0".
   */
  path: string;
  /**
   * Which processes may connect at all, by uid (or a predicate over their credentials). Default: this
   * process's own uid, plus every uid the `names` table names.
   */
  allow?: PeerAllow;
  /** How long a connected process has to send its registration, in ms. Default 10 000. */
  registerTimeoutMs?: number;
}

/**
 * Opens a service registry that processes join with `registerService()`. Options are checked synchronously;
 * the promise resolves once the registration socket listens. Ownership: the registry owns its listening
 * socket (and socket file) and every registrant's channel; `registry.close()` closes them all.
 */
export function openServiceRegistry(options: OpenServiceRegistryOptions): Promise<ServiceRegistry> {
  validateObject(options, 'options');
  validateString(options.path, 'options.path', { nonEmpty: true });
  const registerTimeoutMs = options.registerTimeoutMs ?? 10_000;
  validateTimeout(registerTimeoutMs, 'options.registerTimeoutMs');
  const registry = new ServiceRegistry(options);
  const allow = options.allow ?? defaultAllow(options.names);
  return listenChannel(options.path, { allow }).then((server) => {
    acceptRegistrations(server, registry, registerTimeoutMs);
    return registry;
  });
}

/** This process's uid and those of a `names` table: who could register anything at all. */
function defaultAllow(names: ServiceRegistryOptions['names']): PeerAllow | undefined {
  if (names === undefined || typeof names === 'function') return undefined;
  const uids = new Set(Object.values(names).flat());
  const own = process.getuid?.();
  if (own !== undefined) uids.add(own);
  return [...uids];
}

function acceptRegistrations(server: ChannelServer, registry: ServiceRegistry, timeoutMs: number): void {
  /** Channels connected and not registered yet: the registry does not own them, this listener does. */
  const waiting = new Set<Channel>();
  server.on('channel', (channel) => {
    if (registry.isClosed) {
      channel.destroy();
      return;
    }
    waiting.add(channel);
    const timer = setTimeout(
      () =>
        channel.destroy(
          new PortunusError('ERR_PORTUNUS_REGISTER_TIMEOUT', `no registration arrived within ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    timer.unref();
    channel.once('close', () => {
      clearTimeout(timer);
      waiting.delete(channel);
    });
    // Errors end the channel (and so the registration): there is nobody else to tell.
    channel.on('error', () => {});
    channel.extend({
      name: 'serviceRegistry',
      frames: {
        [MuxFrame.REGISTER]: (message) => {
          if (!waiting.has(channel)) {
            refuse(channel, new PortunusError('ERR_PORTUNUS_BAD_FRAME', 'a channel registers one name, once'));
            return;
          }
          clearTimeout(timer);
          waiting.delete(channel);
          try {
            const { name } = decodeMuxPayload(message.payload, ['name']);
            const credentials = channel.peerCredentials();
            if (credentials === undefined) throw new PortunusError('ERR_PORTUNUS_CHANNEL_CLOSED', 'registrant left');
            const registrant = registry.register(name, channel, credentials);
            channel.writeFrame(MuxFrame.REGISTERED, encodeMuxPayload({ name: registrant.name }), []);
          } catch (error) {
            refuse(channel, error as PortunusError);
          }
        },
      },
    });
  });
  // A refused or failed connection attempt ends there; it must not become an unhandled 'error'.
  server.on('error', () => {});
  registry.onClose(async () => {
    for (const channel of waiting) channel.destroy();
    await server.close();
  });
}

/** Tells the registrant why, then closes the channel (the frame goes out before the end). */
function refuse(channel: Channel, error: PortunusError): void {
  channel.writeFrame(
    MuxFrame.REFUSED,
    encodeMuxPayload({ code: String(error.code ?? 'ERR_PORTUNUS_REGISTRATION_REFUSED'), message: error.message }),
    [],
  );
  void channel.close();
}
