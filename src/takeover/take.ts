/**
 * takeListeners(): the successor's side of a takeover. It connects to the running process's takeover
 * socket, asks for the listeners, adopts every one (each arrives as a listening net.Server or a bound
 * dgram.Socket on the very socket the running process serves), and hands them to the caller, who starts
 * serving them and then calls `ready()`: only then does the running process stop accepting.
 * @module
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { fdBackend } from '../binding/index.js';
import { connectChannel, type Channel, type PeerAllow } from '../channel/index.js';
import { invalidArgument, isSystemError, PortunusError } from '../errors.js';
import { releaseAdopted, type Adopted } from '../transport/index.js';
import { validateInstance, validateOptions, validateString, validateTimeout } from '../validate.js';
import { decodeOffer, refusalError, TakeoverFrame, type Offer, type TakeoverListenerKind } from './frames.js';
import { kindOfDescriptor, type ListenerMetadata } from './listeners.js';

/** Options of `takeListeners()`. */
export interface TakeListenersOptions {
  /** Which running processes to trust, by uid. Default: this process's own uid. */
  allow?: PeerAllow;
  /**
   * Time to connect, be offered the listeners and adopt all of them, in milliseconds. Default 10 000.
   * (How long the caller then takes to call `ready()` is the running process's `readyTimeoutMs`.)
   */
  timeoutMs?: number;
}

/** A listener taken over, before the caller takes its descriptor. */
export interface TakenListener {
  /** 'tcp-server' and 'unix-server': a listening socket; 'udp': a bound UDP socket. */
  kind: TakeoverListenerKind;
  /** The descriptor, close-on-exec; the TakenListeners' until taken with `takeFd()`, `listen()` or `bind()`. */
  fd: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Listeners taken from the running process, by the names it gave them; see `takeListeners()`. They arrive
 * as descriptors that nobody accepts on yet (so that no connection is accepted before something can serve
 * it): `listen()`, `bind()` or `takeFd()` each, then call `ready()`.
 */
export class TakenListeners {
  readonly #channel: Channel;
  readonly #listeners = new Map<string, TakenListener>();
  #offer: Offer | undefined;
  #failure: Error | undefined;
  #onProgress: (() => void) | undefined;
  #ready: Promise<void> | undefined;
  #readyCallbacks: { resolve: () => void; reject: (error: Error) => void } | undefined;
  readonly #onTransport = (adopted: Adopted) => this.#receive(adopted);

  /** @internal Use `takeListeners()`. */
  constructor(channel: Channel) {
    this.#channel = channel;
    channel.extend({
      name: 'takeover',
      frames: {
        [TakeoverFrame.OFFER]: (message) => this.#onOffer(message.payload),
        [TakeoverFrame.RELEASED]: () => this.#onReleased(),
        [TakeoverFrame.REFUSED]: (message) => this.#fail(refusalError(message.payload)),
      },
    });
    channel.on('transport', this.#onTransport);
    channel.once('close', (error) =>
      this.#fail(
        new PortunusError('ERR_PORTUNUS_TAKEOVER_FAILED', 'the running process closed the takeover channel', {
          cause: error,
        }),
      ),
    );
  }

  /** Process id of the running process (as it says itself). */
  get predecessorPid(): number {
    return this.#offer?.pid ?? 0;
  }

  /** The listeners not taken yet, by name. */
  get listeners(): ReadonlyMap<string, Readonly<TakenListener>> {
    return this.#listeners;
  }

  /**
   * Takes the descriptor of listener `name`: the caller owns it from now on (`server.listen({ fd })`,
   * `acceptAndDispatch({ listen: { fd }, … })`, `serveListeners()` alike, which then own it in turn).
   * Throws ERR_INVALID_ARG_VALUE for a name that was not taken over, or whose descriptor was taken already.
   */
  takeFd(name: string): number {
    validateString(name, 'name');
    const listener = this.#listeners.get(name);
    if (listener === undefined) {
      const names = [...this.#listeners.keys()].map((known) => `'${known}'`).join(', ') || 'none left';
      throw invalidArgument('name', `the name of a listener not taken yet (${names})`, name, 'value');
    }
    this.#listeners.delete(name);
    return listener.fd;
  }

  /**
   * Takes the members of the SO_REUSEPORT group the running process offered as `name` (a reuseport
   * `ListenerServer`, sent as `name#0` … `name#n-1`), in group order: give them to
   * `serveListeners({ mode: 'reuseport', listen: { fds } })`, which adopts the group as it is. The caller
   * owns the descriptors from then on. Throws ERR_INVALID_ARG_VALUE when no such group was taken over.
   */
  takeGroup(name: string): number[] {
    validateString(name, 'name');
    const names: string[] = [];
    while (this.#listeners.get(`${name}#${names.length}`)?.kind === 'tcp-server') names.push(`${name}#${names.length}`);
    if (names.length === 0) {
      const known = [...this.#listeners.keys()].map((key) => `'${key}'`).join(', ') || 'none left';
      throw invalidArgument('name', `the name of a reuseport group not taken yet (${known})`, name, 'value');
    }
    return names.map((member) => this.takeFd(member));
  }

  /**
   * Makes `server` (a new net.Server by default; an http.Server, say) listen on the TCP or Unix listener
   * `name`, keeping the accept queue limit the socket has. Resolves with the server, which owns the
   * descriptor from then on and accepts from its first event loop turn: attach its `'connection'` or
   * `'request'` listeners before. A Unix listener's socket file is not removed when this server closes.
   */
  listen<Server extends net.Server = net.Server>(name: string, server?: Server): Promise<Server> {
    if (server !== undefined) validateInstance(server, 'server', net.Server, 'a net.Server');
    const kind = this.#listeners.get(name)?.kind;
    if (kind === 'udp') throw invalidArgument('name', 'the name of a TCP or Unix listener', name, 'value');
    const fd = this.takeFd(name);
    const target = server ?? (net.createServer() as Server);
    let backlog: number | undefined;
    try {
      backlog = fdBackend.describeSocket(fd).backlog;
    } catch {
      // listen() reports what is wrong with the descriptor.
    }
    return new Promise((resolve, reject) => {
      const failed = (error: Error) => {
        fdBackend.close(fd);
        reject(error);
      };
      target.once('error', failed);
      const listening = () => {
        target.off('error', failed);
        resolve(target);
      };
      // With { fd }, Node takes the backlog from the argument after the options (default 511).
      if (backlog === undefined) target.listen({ fd }, listening);
      else target.listen({ fd }, backlog, listening);
    });
  }

  /**
   * Binds `socket` (a new dgram.Socket of the listener's family by default) to the UDP listener `name`.
   * Resolves with it; it owns the descriptor from then on and receives from the next datagram on.
   */
  bind(name: string, socket?: dgram.Socket): Promise<dgram.Socket> {
    if (socket !== undefined) validateInstance(socket, 'socket', dgram.Socket, 'a dgram.Socket');
    const kind = this.#listeners.get(name)?.kind;
    if (kind !== undefined && kind !== 'udp')
      throw invalidArgument('name', 'the name of a UDP listener', name, 'value');
    const fd = this.takeFd(name);
    let target = socket;
    if (target === undefined) {
      let family: string | undefined;
      try {
        family = fdBackend.describeSocket(fd).family;
      } catch {
        // bind() reports it.
      }
      target = dgram.createSocket(family === 'IPv6' ? 'udp6' : 'udp4');
    }
    const bound = target;
    return new Promise((resolve, reject) => {
      const failed = (error: Error) => {
        fdBackend.close(fd);
        reject(error);
      };
      bound.once('error', failed);
      bound.bind({ fd }, () => {
        bound.off('error', failed);
        resolve(bound);
      });
    });
  }

  /**
   * Tells the running process that every listener is served here. Resolves once it has stopped accepting on
   * all of them and freed its takeover socket path (so that this process can `offerListeners()` on it for
   * the next one). Rejects with ERR_PORTUNUS_TAKEOVER_TIMEOUT if the running process gave up waiting first,
   * ERR_PORTUNUS_TAKEOVER_FAILED if it went away (it may still be serving: both processes accept then).
   * Every listener must have been taken by then (`listen()`, `bind()` or `takeFd()`; to drop one, close
   * the descriptor `takeFd()` gives): otherwise nobody would accept on it once the running process stops,
   * so this rejects with ERR_PORTUNUS_TAKEOVER_FAILED, says nothing to the running process, and may be
   * called again. Idempotent once it has been said.
   */
  ready(): Promise<void> {
    if (this.#ready === undefined && this.#listeners.size > 0) {
      const names = [...this.#listeners.keys()].map((name) => `'${name}'`).join(', ');
      return Promise.reject(
        new PortunusError(
          'ERR_PORTUNUS_TAKEOVER_FAILED',
          `listener(s) ${names} not taken: nobody would accept on them`,
        ),
      );
    }
    this.#ready ??= new Promise<void>((resolve, reject) => {
      if (this.#failure !== undefined) {
        reject(this.#failure);
        return;
      }
      this.#readyCallbacks = { resolve, reject };
      this.#channel.off('transport', this.#onTransport);
      this.#channel.writeFrame(TakeoverFrame.READY, Buffer.alloc(0), []);
    });
    return this.#ready;
  }

  /**
   * Closes the descriptors not taken, and gives up the takeover if `ready()` has not completed: the
   * running process then rolls back and keeps serving. Servers and sockets made from taken descriptors are
   * the caller's to close. Idempotent.
   */
  close(): void {
    if (!this.#channel.isClosed) this.#channel.destroy();
    for (const { fd } of this.#listeners.values()) fdBackend.close(fd);
    this.#listeners.clear();
  }

  /** @internal Resolves once the offer and every listener it names have arrived; rejects on a failure. */
  received(): Promise<this> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.#failure !== undefined) reject(this.#failure);
        else if (this.#offer !== undefined && this.#listeners.size === this.#offer.listeners.length) resolve(this);
        else return;
        this.#onProgress = undefined;
      };
      this.#onProgress = check;
      check();
    });
  }

  #onOffer(payload: Buffer): void {
    if (this.#offer !== undefined) {
      this.#fail(new PortunusError('ERR_PORTUNUS_TAKEOVER_FAILED', 'the running process sent a second OFFER'));
      return;
    }
    try {
      this.#offer = decodeOffer(payload);
    } catch (error) {
      this.#fail(error as Error);
      return;
    }
    this.#onProgress?.();
  }

  #receive(adopted: Adopted): void {
    const name = (adopted.metadata as Partial<ListenerMetadata> | undefined)?.takeover;
    const offered = this.#offer?.listeners.find((listener) => listener.name === name);
    const arrived = adopted.kind === 'fd' ? kindOfDescriptor(adopted.fd) : undefined;
    if (
      this.#failure !== undefined ||
      offered === undefined ||
      arrived !== offered.kind ||
      this.#listeners.has(offered.name)
    ) {
      // Not part of this takeover, not what was offered, or no longer wanted: ours since the ACK, so ours to
      // close (the running process keeps its own copy, untouched).
      releaseAdopted(adopted);
      this.#fail(
        new PortunusError(
          'ERR_PORTUNUS_TAKEOVER_FAILED',
          `the running process sent ${arrived ?? `a '${adopted.kind}'`} listener it did not offer as ${JSON.stringify(name)}`,
        ),
      );
      return;
    }
    this.#listeners.set(offered.name, { kind: offered.kind, fd: (adopted as { fd: number }).fd });
    this.#onProgress?.();
  }

  #onReleased(): void {
    this.#readyCallbacks?.resolve();
    this.#readyCallbacks = undefined;
    void this.#channel.close();
  }

  #fail(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.#onProgress?.();
    this.#readyCallbacks?.reject(error);
    this.#readyCallbacks = undefined;
    if (!this.#channel.isClosed) this.#channel.destroy();
  }
}

/**
 * Takes every listener of the process serving `path` (its `offerListeners()`). Resolves once all have
 * arrived, as descriptors nobody accepts on yet; the running process goes on accepting meanwhile. Serve
 * each (`taken.listen(name, httpServer)`, `taken.bind(name)`, or `acceptAndDispatch({ listen: { fd:
 * taken.takeFd(name) }, pool })`), then call `taken.ready()`.
 *
 * Rejects with ERR_PORTUNUS_NO_PREDECESSOR when nothing serves `path` (cause: ENOENT or ECONNREFUSED; a
 * first generation binds its own listeners), ERR_PORTUNUS_TAKEOVER_BUSY when another successor is taking
 * over, ERR_PORTUNUS_TAKEOVER_TIMEOUT after `timeoutMs`, ERR_PORTUNUS_TAKEOVER_FAILED when the running process
 * went away or sent what it had not offered, ERR_PORTUNUS_PEER_REFUSED when it runs as a uid not allowed.
 * Descriptors received before a failure are closed; the running process keeps its own and goes on serving.
 * Arguments are checked synchronously.
 */
export function takeListeners(path: string, options?: TakeListenersOptions): Promise<TakenListeners> {
  const { allow, timeoutMs = DEFAULT_TIMEOUT_MS } = validateOptions(options);
  validateTimeout(timeoutMs, 'options.timeoutMs');
  // Throws synchronously for a path that cannot work and for a bad `allow`.
  const connecting = connectChannel(path, allow === undefined ? {} : { allow });
  return take(connecting, timeoutMs);
}

async function take(connecting: Promise<Channel>, timeoutMs: number): Promise<TakenListeners> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new PortunusError('ERR_PORTUNUS_TAKEOVER_TIMEOUT', `no takeover within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  let taken: TakenListeners | undefined;
  try {
    const channel = await Promise.race([connecting.catch(noPredecessor), deadline]);
    taken = new TakenListeners(channel);
    channel.writeFrame(TakeoverFrame.TAKE, Buffer.alloc(0), []);
    return await Promise.race([taken.received(), deadline]);
  } catch (error) {
    if (taken !== undefined) {
      taken.close();
    } else {
      // A connection that completes after the deadline is closed as soon as it does.
      connecting.then(
        (channel) => channel.destroy(),
        () => {},
      );
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function noPredecessor(error: Error): never {
  if (isSystemError(error) && (error.code === 'ENOENT' || error.code === 'ECONNREFUSED')) {
    throw new PortunusError(
      'ERR_PORTUNUS_NO_PREDECESSOR',
      `no process offers its listeners at ${(error as { address?: string }).address ?? 'this path'}`,
      {
        cause: error,
      },
    );
  }
  throw error;
}
