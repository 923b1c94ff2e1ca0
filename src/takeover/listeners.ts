/**
 * The listeners a running process offers to its successor, by name: what each is (the kind the OFFER
 * names), how a copy of it is sent (the process keeps its own until the successor is ready), and how the
 * process stops accepting on it once the successor serves it.
 * @module
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { dgramFd, fdBackend, serverFd } from '../binding/index.js';
import type { Channel } from '../channel/index.js';
import { Dispatcher, ListenerServer } from '../dispatch/index.js';
import { PortunusError, invalidArgument } from '../errors.js';
import { closeServerKeepingName, distributeTransport } from '../transport/index.js';
import { validateObject } from '../validate.js';
import type { OfferedListener, TakeoverListenerKind } from './frames.js';

/**
 * What a process can offer to its successor: a listening `net.Server` (TCP or Unix, a member of a
 * SO_REUSEPORT group included: each member is a listener of its own), a bound `dgram.Socket`, or the
 * listening socket of a `Dispatcher` (`acceptAndDispatch()`) or `ListenerServer` (`serveListeners()`).
 */
export type TakeoverListener = net.Server | dgram.Socket | Dispatcher | ListenerServer;

/** A listener, checked, with what the takeover does with it. */
export interface RegisteredListener {
  readonly name: string;
  readonly kind: TakeoverListenerKind;
  /** Hands a copy to the peer of `channel`; this process keeps its own, and keeps accepting on it. */
  send(channel: Channel): Promise<unknown>;
  /** Stops accepting here, for good; the socket lives on in the successor's copy. */
  stop(): void;
}

/** The metadata a listener travels with: its name, under a key no other use of metadata takes. */
export interface ListenerMetadata {
  takeover: string;
}

/**
 * Checks the `listeners` option (a plain object, name → listener) and returns the registrations. Throws
 * ERR_INVALID_ARG_TYPE for anything that cannot be offered, ERR_INVALID_ARG_VALUE for a server that does
 * not listen, an unbound UDP socket or a closed dispatcher.
 */
export function registerListeners(listeners: unknown): RegisteredListener[] {
  validateObject(listeners, 'options.listeners', 'an object of named listeners');
  const registered = Object.entries(listeners).flatMap(([name, listener]) =>
    listener instanceof ListenerServer && listener.stats().mode === 'reuseport'
      ? registerGroup(name, listener)
      : [register(name, listener as unknown)],
  );
  const names = new Set<string>();
  for (const { name } of registered) {
    // 'web#0' given beside a reuseport group 'web' would travel under the name of the group's first member.
    if (names.has(name))
      throw invalidArgument(`options.listeners.${name}`, 'a name no reuseport group member takes', name, 'value');
    names.add(name);
  }
  return registered;
}

/**
 * A reuseport ListenerServer is a group of sockets: each member travels as a listener of its own, named
 * `name#0` … `name#n-1` in group order (`TakenListeners.takeGroup(name)` gathers them again). The members
 * are the same sockets in both processes, so the group, its queues and the order the kernel knows them by are
 * kept. Once the successor is ready, the ListenerServer closes: its own copies only, after the successor
 * holds its own, so no queued connection is reset.
 */
function registerGroup(name: string, listener: ListenerServer): RegisteredListener[] {
  const count = listener.listenerFds().length;
  const metadataOf = (index: number): ListenerMetadata => ({ takeover: `${name}#${index}` });
  return Array.from({ length: count }, (_, index) => ({
    name: `${name}#${index}`,
    kind: 'tcp-server' as const,
    send(channel: Channel) {
      const descriptor = listener.listenerFds()[index];
      if (descriptor === undefined)
        return Promise.reject(new PortunusError('ERR_PORTUNUS_TAKEOVER_FAILED', `listener '${name}' was closed`));
      return distributeTransport(channel, { fd: descriptor }, { keepOpen: true, metadata: metadataOf(index) });
    },
    // Idempotent: the first member's stop closes the whole server, the others find it closing.
    stop: () => void listener.close(),
  }));
}

function register(name: string, listener: unknown): RegisteredListener {
  const option = `options.listeners.${name}`;
  let fd: () => number | undefined;
  let stop: () => void;
  if (listener instanceof net.Server) {
    if (!listener.listening) throw invalidArgument(option, 'a listening net.Server', listener, 'value');
    fd = () => (listener.listening ? serverFd(listener) : undefined);
    stop = () => closeServerKeepingName(listener);
  } else if (listener instanceof dgram.Socket) {
    fd = () => {
      try {
        return dgramFd(listener);
      } catch {
        return undefined; // not bound, or closed
      }
    };
    stop = () => listener.close();
  } else if (listener instanceof Dispatcher) {
    fd = () => listener.listeningFd();
    // The dispatcher stops accepting at once; what it had accepted still goes to its workers (the caller
    // awaits that with its own close()).
    // The successor serves the socket file's name now: it is its to unlink.
    stop = () => {
      listener.keepSocketFile();
      void listener.close();
    };
  } else if (listener instanceof ListenerServer) {
    // One name is one socket: a shared listener has one; a reuseport group has one per member.
    fd = () => {
      const fds = listener.listenerFds();
      return fds.length === 1 ? fds[0] : undefined;
    };
    // Shared-mode workers accept until their pool drains them; the socket file's name is the successor's.
    stop = () => {
      listener.keepSocketFile();
      void listener.close();
    };
  } else {
    throw invalidArgument(option, 'a net.Server, dgram.Socket, Dispatcher or ListenerServer', listener);
  }
  const current = fd();
  const kind = current === undefined ? undefined : kindOfDescriptor(current);
  if (kind === undefined)
    throw invalidArgument(option, 'a listening TCP or Unix stream socket, or a bound UDP socket', listener, 'value');
  const metadata: ListenerMetadata = { takeover: name };
  return {
    name,
    kind,
    send(channel) {
      const descriptor = fd();
      if (descriptor === undefined)
        return Promise.reject(new PortunusError('ERR_PORTUNUS_TAKEOVER_FAILED', `listener '${name}' was closed`));
      // As a raw descriptor: the successor must not accept on it before it has something to serve it with.
      return distributeTransport(channel, { fd: descriptor }, { keepOpen: true, metadata });
    },
    stop,
  };
}

/** What a descriptor is as a takeover listener, by the kernel's account of it; undefined for anything else. */
export function kindOfDescriptor(fd: number): TakeoverListenerKind | undefined {
  const { kind, listening } = fdBackend.socketKind(fd);
  if (kind === 'tcp' && listening === true) return 'tcp-server';
  if (kind === 'unix-stream' && listening === true) return 'unix-server';
  if (kind === 'udp') return 'udp';
  return undefined;
}

/** What the OFFER frame says about the registrations. */
export function describeListeners(listeners: readonly RegisteredListener[]): OfferedListener[] {
  return listeners.map(({ name, kind }) => ({ name, kind }));
}
