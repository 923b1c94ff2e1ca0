/**
 * offerListeners(): the running process's side of a takeover. It serves its listeners by name on a
 * credential-checked Unix socket; a successor that connects and asks gets a copy of every one of them, in
 * batched TRANSPORT frames, while this process goes on accepting. Only when the successor says it is ready
 * does this process stop accepting (its copies close; the sockets and their queued connections live on in
 * the successor) and free the takeover socket's path for the successor. A successor that fails, goes away
 * or is not ready in time changes nothing here: this process never stopped serving (rollback).
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { listenChannel, type Channel, type ChannelServer, type PeerAllow, type RefusedPeer } from '../channel/index.js';
import { PortunusError } from '../errors.js';
import { validateObject, validateString, validateTimeout } from '../validate.js';
import { encodeOffer, encodeRefusal, TakeoverFrame } from './frames.js';
import { describeListeners, registerListeners, type RegisteredListener, type TakeoverListener } from './listeners.js';

/** Options of `offerListeners()`. */
export interface OfferListenersOptions {
  /**
   * Socket path (or '\0name', a Linux abstract name) where successors connect. A path is created 0600 in a
   * 0700 directory owned by this user (created if missing), as `listenChannel()` does.
   */
  path: string;
  /** The listeners handed over, by name: the successor finds each under the same name. */
  listeners: Record<string, TakeoverListener>;
  /** Which successor processes may take over, by uid. Default: this process's own uid. */
  allow?: PeerAllow;
  /**
   * Time a successor has, from its request, to adopt every listener and say it is ready, in milliseconds.
   * Past it the takeover is rolled back. Default 60 000.
   */
  readyTimeoutMs?: number;
}

/** Who asked to take over, as the kernel recorded it when it connected. */
export interface Successor {
  /** Its process id (SO_PEERCRED). */
  pid: number;
  /** The user it runs as (SO_PEERCRED). */
  uid: number;
}

/** Where a {@link TakeoverServer} stands. */
export type TakeoverState = 'serving' | 'offering' | 'handed-over' | 'closed';

/** Events of a {@link TakeoverServer}. */
export interface TakeoverServerEvents {
  /** A successor asked for the listeners; copies of them are on their way to it. */
  takeover: [successor: Successor];
  /**
   * The successor is ready: this process stopped accepting on every listener (connections it accepted are
   * its own to finish) and closed its takeover socket. Drain (`dispatcher.close()`, `pool.close()`) and exit.
   */
  handover: [successor: Successor];
  /**
   * A takeover did not happen: the successor went away, failed to adopt a listener, or was not ready within
   * `readyTimeoutMs`. Nothing was closed here. Without a listener it is written to stderr as a process
   * warning.
   */
  rollback: [error: PortunusError, successor: Successor];
  /** A second successor asked while a takeover ran, and was refused (ERR_PORTUNUS_TAKEOVER_BUSY). */
  busy: [successor: Successor];
  /** A process whose uid is not allowed connected; it was turned away before anything was read. */
  refused: [refused: RefusedPeer];
  /** The takeover socket itself failed (see ChannelServer's `'error'`). */
  error: [error: Error];
}

const DEFAULT_READY_TIMEOUT_MS = 60_000;

interface Attempt {
  channel: Channel;
  successor: Successor;
  timer: NodeJS.Timeout;
  /** The handoffs of the listeners' copies, settled by the successor's ACKs. */
  sends: Array<Promise<unknown>>;
}

/** The running process's takeover socket; see `offerListeners()`. */
export class TakeoverServer extends EventEmitter<TakeoverServerEvents> {
  readonly #server: ChannelServer;
  readonly #listeners: readonly RegisteredListener[];
  readonly #readyTimeoutMs: number;
  #state: TakeoverState = 'serving';
  #attempt: Attempt | undefined;
  #handedOverTo: Successor | undefined;
  /** Every channel open to a peer of the takeover socket. */
  readonly #channels = new Set<Channel>();
  #handoverWaiters: Array<{ resolve: (successor: Successor) => void; reject: (error: Error) => void }> = [];

  /** @internal Use `offerListeners()`. */
  constructor(server: ChannelServer, listeners: readonly RegisteredListener[], readyTimeoutMs: number) {
    super();
    this.#server = server;
    this.#listeners = listeners;
    this.#readyTimeoutMs = readyTimeoutMs;
    server.on('channel', (channel) => this.#attach(channel));
    server.on('refused', (refused) => this.emit('refused', refused));
    server.on('error', (error) => this.emit('error', error));
  }

  /** Where successors connect. */
  get path(): string {
    return this.#server.path;
  }

  /** 'serving' (no takeover running), 'offering' (a successor is taking over), 'handed-over', 'closed'. */
  get state(): TakeoverState {
    return this.#state;
  }

  /**
   * Resolves with the successor once one has taken over (at once if one already has); rejects with
   * ERR_PORTUNUS_TAKEOVER_FAILED if this server is closed first. Rollbacks do not settle it: the next
   * successor may succeed.
   */
  handedOver(): Promise<Successor> {
    return new Promise((resolve, reject) => {
      if (this.#handedOverTo !== undefined) resolve(this.#handedOverTo);
      else if (this.#state === 'closed') reject(closedError());
      else this.#handoverWaiters.push({ resolve, reject });
    });
  }

  /**
   * Stops offering: closes the takeover socket (and removes its file) and aborts a takeover that is running
   * (the successor is told ERR_PORTUNUS_TAKEOVER_FAILED). The listeners stay this process's, untouched.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'handed-over') return this.#server.close();
    this.#state = 'closed';
    const attempt = this.#attempt;
    if (attempt !== undefined) this.#abort(attempt, closedError(), false);
    for (const waiter of this.#handoverWaiters.splice(0)) waiter.reject(closedError());
    this.#closeIdleChannels(attempt?.channel);
    await this.#server.close();
  }

  /** Ends the channels of peers that connected and asked for nothing (or were refused), but `keep`. */
  #closeIdleChannels(keep: Channel | undefined): void {
    for (const channel of this.#channels) if (channel !== keep) channel.destroy();
  }

  #attach(channel: Channel): void {
    const credentials = channel.peerCredentials();
    const successor: Successor = { pid: credentials?.pid ?? 0, uid: credentials?.uid ?? 0 };
    channel.extend({
      name: 'takeover',
      frames: {
        [TakeoverFrame.TAKE]: () => this.#onTake(channel, successor),
        [TakeoverFrame.READY]: () => this.#onReady(channel),
      },
    });
    this.#channels.add(channel);
    channel.once('close', (error) => {
      this.#channels.delete(channel);
      this.#onChannelClosed(channel, error);
    });
    // Connected after the handover or the close (accepted just before the socket closed): nothing to offer.
    if (this.#state === 'handed-over' || this.#state === 'closed') channel.destroy();
  }

  #onTake(channel: Channel, successor: Successor): void {
    if (this.#state !== 'serving') {
      const busy = this.#state === 'offering';
      const error = busy
        ? new PortunusError(
            'ERR_PORTUNUS_TAKEOVER_BUSY',
            `process ${this.#attempt?.successor.pid} is taking over already`,
          )
        : new PortunusError('ERR_PORTUNUS_TAKEOVER_FAILED', `this process's takeover socket is ${this.#state}`);
      refuse(channel, error);
      if (busy && this.#attempt?.channel !== channel) this.emit('busy', successor);
      return;
    }
    this.#state = 'offering';
    const timer = setTimeout(() => {
      this.#rollback(
        channel,
        new PortunusError(
          'ERR_PORTUNUS_TAKEOVER_TIMEOUT',
          `process ${successor.pid} was not ready within ${this.#readyTimeoutMs} ms`,
        ),
      );
    }, this.#readyTimeoutMs);
    const attempt: Attempt = { channel, successor, timer, sends: [] };
    this.#attempt = attempt;
    this.emit('takeover', successor);
    channel.writeFrame(
      TakeoverFrame.OFFER,
      encodeOffer({ pid: process.pid, listeners: describeListeners(this.#listeners) }),
      [],
    );
    // All in this tick: the transport session packs them into as few sendmsg calls as descriptors allow.
    for (const listener of this.#listeners) {
      const sent = listener.send(channel);
      attempt.sends.push(sent);
      sent.catch((cause: Error) =>
        this.#rollback(
          channel,
          new PortunusError(
            'ERR_PORTUNUS_TAKEOVER_FAILED',
            `listener '${listener.name}' could not be handed to process ${successor.pid}: ${cause.message}`,
            { cause },
          ),
        ),
      );
    }
  }

  #onReady(channel: Channel): void {
    const attempt = this.#attempt;
    if (attempt?.channel !== channel || this.#state !== 'offering') return;
    // The successor acknowledged every listener before it said ready (its ACKs travel first on the same
    // stream), but an ACK read in the same batch as the READY settles its handoff a microtask later: wait for
    // all of them. A successor that says ready without adopting them all never gets there: its handoffs stay
    // unanswered until the ready timeout rolls the takeover back.
    Promise.all(attempt.sends).then(
      () => this.#handOver(attempt),
      () => {}, // the failed handoff rolled the takeover back already
    );
  }

  #handOver(attempt: Attempt): void {
    if (this.#attempt !== attempt || this.#state !== 'offering') return;
    const { channel } = attempt;
    clearTimeout(attempt.timer);
    this.#attempt = undefined;
    this.#state = 'handed-over';
    this.#closeIdleChannels(channel);
    // Stop accepting. Each copy closes; the socket stays open in the successor, so what the kernel queued is
    // accepted there. A Unix listener's file is the successor's now and is not unlinked.
    for (const listener of this.#listeners) {
      try {
        listener.stop();
      } catch {
        // Already closed by the application: nothing was accepting on it here anyway.
      }
    }
    // The takeover socket's path goes to the successor, which will offer its listeners on it in turn: free it
    // before saying RELEASED, so that its listenChannel() does not meet this process's socket file.
    // The handover is announced once RELEASED has reached the kernel: a caller that exits on 'handover' must
    // not take it along unsent (the successor would see the channel end instead, and fail its ready()).
    void this.#server.close().then(() => {
      const announce = () => {
        this.#handedOverTo = attempt.successor;
        this.emit('handover', attempt.successor);
        for (const waiter of this.#handoverWaiters.splice(0)) waiter.resolve(attempt.successor);
      };
      if (channel.isClosed) announce();
      else
        channel.writeFrame(TakeoverFrame.RELEASED, Buffer.alloc(0), [], () => {
          announce();
          void channel.close();
        });
    });
  }

  #onChannelClosed(channel: Channel, error: Error | undefined): void {
    if (this.#attempt?.channel !== channel) return;
    this.#rollback(
      channel,
      new PortunusError(
        'ERR_PORTUNUS_TAKEOVER_FAILED',
        `process ${this.#attempt.successor.pid} went away before it was ready`,
        { cause: error },
      ),
    );
  }

  #rollback(channel: Channel, error: PortunusError): void {
    const attempt = this.#attempt;
    if (attempt?.channel !== channel || this.#state !== 'offering') return;
    this.#state = 'serving';
    this.#abort(attempt, error, true);
  }

  /** Ends an attempt: the successor is told why; this process's listeners were never touched. */
  #abort(attempt: Attempt, error: PortunusError, report: boolean): void {
    clearTimeout(attempt.timer);
    this.#attempt = undefined;
    refuse(attempt.channel, error);
    if (!report) return;
    if (this.listenerCount('rollback') > 0) this.emit('rollback', error, attempt.successor);
    else process.emitWarning(`takeover rolled back: ${error.message}`, { type: 'PortunusWarning', code: error.code });
  }
}

/** Tells the peer why its takeover will not happen, then closes the channel. */
function refuse(channel: Channel, error: PortunusError): void {
  if (channel.isClosed) return;
  channel.writeFrame(
    TakeoverFrame.REFUSED,
    encodeRefusal({ code: error.code, message: error.message }),
    [],
    () => void channel.close(),
  );
}

function closedError(): PortunusError {
  return new PortunusError('ERR_PORTUNUS_TAKEOVER_FAILED', 'the takeover server was closed');
}

/**
 * Serves `options.listeners` by name on `options.path` for a successor (`takeListeners()`). Resolves once
 * the takeover socket listens. Arguments are checked synchronously.
 *
 * Ownership: the listeners stay the caller's throughout. When a successor takes over (`'handover'`), their
 * copies here are closed by the takeover (a Unix listener without removing its socket file, which the
 * successor serves now; a dispatcher with `close()`, which still hands what it accepted to its workers);
 * after a rollback they are untouched and still accepting. The takeover socket is the TakeoverServer's:
 * it closes at the handover, or with `close()`.
 */
export function offerListeners(options: OfferListenersOptions): Promise<TakeoverServer> {
  validateObject(options, 'options');
  validateString(options.path, 'options.path', { nonEmpty: true });
  const listeners = registerListeners(options.listeners);
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  validateTimeout(readyTimeoutMs, 'options.readyTimeoutMs');
  const listening = listenChannel(options.path, options.allow === undefined ? {} : { allow: options.allow });
  return listening.then((server) => new TakeoverServer(server, listeners, readyTimeoutMs));
}
