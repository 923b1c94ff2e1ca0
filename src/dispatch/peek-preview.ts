/**
 * The dispatcher's fast way to read a connection for `route()`: it looks, it does not read. The first bytes
 * are peeked (recv with MSG_PEEK) on the raw accepted descriptor, so they stay in the kernel, no Node object
 * is made in the master, and the connection leaves on the raw-descriptor path like an unrouted one: the
 * worker reads the ClientHello or request head itself. Only a PROXY protocol header is consumed (read for
 * real, exactly its length), so that the worker never sees it.
 *
 * The bounds and the outcome are readPreview()'s (./preview.ts): `complete()`, `maxBytes`, `timeoutMs`,
 * `ended`. Waiting for more bytes than those already peeked needs care: the poll is level-triggered and
 * peeked bytes stay queued, so after looking at N bytes the socket's SO_RCVLOWAT becomes N + 1 (Linux's
 * tcp_poll honours it, and an end or an error still wakes the poll), or the loop would spin on the same
 * bytes. It is back at 1 before the connection is handed on: the option travels with the socket.
 *
 * TCP only: a Unix socket's poll ignores SO_RCVLOWAT, so the dispatcher reads its Unix connections through a
 * net.Socket (readPreview) instead, as it does where the backend cannot peek at all (Windows).
 * @module
 */
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { fdBackend, type NativeReadableWatcher, type PeekSupport } from '../binding/index.js';
import { PortunusError, systemError } from '../errors.js';
import type { PreviewOptions, RoutePreview } from './preview.js';
import { decodeProxyHeader, PROXY_HEADER_MAX_BYTES, type ProxyHeader } from './proxy-protocol.js';

const EAGAIN = -constants.errno.EAGAIN;

/** What a peek preview found: route()'s preview, and this end's address (for a PROXY header to the worker). */
export interface Peeked {
  preview: RoutePreview;
  /** The PROXY header the connection started with (acceptProxyProtocol), consumed from the socket. */
  proxy: ProxyHeader | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
}

/** What to look for: a PROXY header first (`proxyHeader`), then a preview for route() (`preview`), or neither. */
export interface PeekPlan {
  proxyHeader: boolean;
  /** The bounds of route()'s preview; undefined when there is no route() (the header alone is wanted). */
  preview: PreviewOptions | undefined;
  /** The PROXY header's deadline, in ms (the preview's timeoutMs, as readProxyHeader has it). */
  proxyTimeoutMs: number;
}

/**
 * @internal One accepted TCP connection being looked at. The descriptor stays the caller's throughout: this
 * class never closes it; it only watches it (a ReadableWatcher, made only if the first peek did not
 * suffice), and when it is done it has stopped watching and restored SO_RCVLOWAT, so the descriptor can
 * leave the process. `onDone` is called exactly once, possibly from start() itself.
 */
export class PeekingConnection {
  readonly fd: number;
  readonly #peeking: PeekSupport;
  readonly #plan: PeekPlan;
  readonly #onDone: (error: Error | undefined, peeked: Peeked | undefined) => void;
  #phase: 'proxy' | 'preview' = 'proxy';
  #proxy: ProxyHeader | undefined;
  #watcher: NativeReadableWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** SO_RCVLOWAT as this class last set it (1 is the kernel's default). */
  #lowWater = 1;
  /** The peer shut down its sending side: what is queued is all there will be. */
  #ended = false;
  #done = false;
  /** Set by destroy() after onDone ran (route() was still deciding): the connection is to be dropped. */
  #abandonedWith: Error | undefined;

  constructor(fd: number, plan: PeekPlan, onDone: (error: Error | undefined, peeked: Peeked | undefined) => void) {
    this.fd = fd;
    // The dispatcher makes one only where the backend peeks.
    this.#peeking = fdBackend.peeking!;
    this.#plan = plan;
    this.#onDone = onDone;
    if (!plan.proxyHeader) this.#phase = 'preview';
  }

  /** Looks at what has arrived; waits for more only if that is not enough. */
  start(): void {
    this.#look();
  }

  /**
   * Stops looking (close() gave up on the connection): onDone gets `error`, if it has not run yet; if it
   * has, `abandonedWith` says so to whoever still holds the connection. Never closes the descriptor.
   */
  destroy(error: Error): void {
    if (this.#done) {
      this.#abandonedWith ??= error;
      return;
    }
    this.#fail(error);
  }

  /** The error destroy() gave after onDone had run, if any. */
  get abandonedWith(): Error | undefined {
    return this.#abandonedWith;
  }

  #look(): void {
    const preview = this.#plan.preview;
    const limit = this.#phase === 'proxy' ? PROXY_HEADER_MAX_BYTES : preview!.maxBytes;
    const bytes = this.#peeking.peek(this.fd, limit);
    if (typeof bytes === 'number') {
      if (bytes === EAGAIN) this.#wait(0);
      else this.#fail(systemError(bytes, 'recv', getSystemErrorName(bytes), this.fd));
      return;
    }
    // recv returns nothing only at the end of the stream: there never will be more.
    if (bytes.length === 0) this.#ended = true;
    if (this.#phase === 'proxy') this.#lookAtProxyHeader(bytes);
    else this.#lookAtPreview(bytes, preview!);
  }

  #lookAtProxyHeader(bytes: Buffer): void {
    let decoded: ReturnType<typeof decodeProxyHeader>;
    try {
      decoded = decodeProxyHeader(bytes);
    } catch (error) {
      this.#fail(error as Error);
      return;
    }
    if (decoded === undefined) {
      if (this.#ended)
        this.#fail(
          new PortunusError(
            'ERR_PORTUNUS_PROXY_PROTOCOL',
            'PROXY protocol header: the client closed before the header was complete',
          ),
        );
      else this.#wait(bytes.length);
      return;
    }
    // Consumed for real, exactly the header: the connection's own bytes stay queued for the worker.
    const consumed = this.#peeking.discard(this.fd, decoded.length);
    if (consumed !== decoded.length) {
      this.#fail(
        consumed < 0
          ? systemError(consumed, 'recv', getSystemErrorName(consumed), this.fd)
          : new PortunusError('ERR_PORTUNUS_PROXY_PROTOCOL', 'PROXY protocol header: could not consume it whole'),
      );
      return;
    }
    this.#proxy = decoded.header;
    this.#phase = 'preview';
    // The preview has a deadline of its own, as readPreview after readProxyHeader has.
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // What followed the header in the same segments is looked at at once.
    if (this.#plan.preview === undefined) this.#finish(Buffer.alloc(0), false, false);
    else this.#look();
  }

  #lookAtPreview(bytes: Buffer, options: PreviewOptions): void {
    if (bytes.length > 0 && (bytes.length >= options.maxBytes || isComplete(options, bytes)))
      this.#finish(bytes, false, false);
    else if (this.#ended) this.#finish(bytes, false, true);
    else this.#wait(bytes.length);
  }

  /** Waits until more than `seen` bytes are queued, the peer ends or resets, or the deadline. */
  #wait(seen: number): void {
    const lowWater = seen + 1;
    if (lowWater !== this.#lowWater) {
      const status = this.#peeking.setReceiveLowWater(this.fd, lowWater);
      if (status < 0) {
        this.#fail(systemError(status, 'setsockopt', getSystemErrorName(status), this.fd));
        return;
      }
      this.#lowWater = lowWater;
    }
    try {
      this.#watcher ??= this.#peeking.watchReadable(this.fd, (status, ended) => this.#onReadable(status, ended));
      this.#watcher.start();
    } catch (error) {
      this.#fail(error as Error);
      return;
    }
    this.#timer ??= setTimeout(
      () => this.#onTimeout(),
      this.#phase === 'proxy' ? this.#plan.proxyTimeoutMs : this.#plan.preview!.timeoutMs,
    );
  }

  #onReadable(status: number, ended: boolean): void {
    if (this.#done) return;
    if (status < 0) {
      // POLLERR (libuv says EBADF, and has stopped the watcher): the socket has a pending error, a reset most
      // likely. recv reports it only once the bytes queued before it are read: the connection is lost, so they
      // are read and dropped, and a peek then says what happened (the poll's word stands if it does not).
      this.#peeking.discard(this.fd, DRAIN_BYTES);
      const bytes = this.#peeking.peek(this.fd, 1);
      const errno = typeof bytes === 'number' && bytes !== EAGAIN ? bytes : status;
      this.#fail(systemError(errno, typeof bytes === 'number' ? 'recv' : 'poll', getSystemErrorName(errno), this.fd));
      return;
    }
    if (ended) this.#ended = true;
    this.#look();
  }

  #onTimeout(): void {
    this.#timer = undefined;
    if (this.#done) return;
    if (this.#phase === 'proxy') {
      this.#fail(
        new PortunusError(
          'ERR_PORTUNUS_PROXY_PROTOCOL',
          `PROXY protocol header: not complete within ${this.#plan.proxyTimeoutMs} ms`,
        ),
      );
      return;
    }
    // Routed with what arrived by the deadline (possibly nothing).
    const options = this.#plan.preview!;
    const bytes = this.#peeking.peek(this.fd, options.maxBytes);
    if (typeof bytes === 'number' && bytes !== EAGAIN) {
      this.#fail(systemError(bytes, 'recv', getSystemErrorName(bytes), this.fd));
      return;
    }
    const seen = typeof bytes === 'number' ? Buffer.alloc(0) : bytes;
    const complete = seen.length > 0 && (seen.length >= options.maxBytes || isComplete(options, seen));
    this.#finish(seen, !complete, false);
  }

  /** Stops watching and puts SO_RCVLOWAT back: after this the descriptor may leave the process. */
  #stop(): number {
    this.#done = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // close() takes the descriptor out of the loop's epoll set at once (libuv's uv__platform_invalidate_fd).
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#lowWater === 1) return 0;
    this.#lowWater = 1;
    return this.#peeking.setReceiveLowWater(this.fd, 1);
  }

  #finish(bytes: Buffer, timedOut: boolean, ended: boolean): void {
    const status = this.#stop();
    if (status < 0) {
      this.#onDone(systemError(status, 'setsockopt', getSystemErrorName(status), this.fd), undefined);
      return;
    }
    let localAddress: string | undefined;
    let localPort: number | undefined;
    let remoteAddress: string | undefined;
    let remotePort: number | undefined;
    try {
      [localAddress, localPort, remoteAddress, remotePort] = this.#peeking.addresses(this.fd);
    } catch {
      // The connection is gone (ENOTCONN): routed without an address, as a net.Socket would report it.
    }
    this.#onDone(undefined, {
      preview: { bytes, remoteAddress, remotePort, timedOut, ended },
      proxy: this.#proxy,
      localAddress,
      localPort,
    });
  }

  #fail(error: Error): void {
    this.#stop();
    this.#onDone(error, undefined);
  }
}

/** At most this much of what a dropped connection's client sent is read and thrown away before closing. */
const DRAIN_BYTES = 64 * 1024;

/**
 * @internal Closes a connection that was peeked at and is not handed on (dropped, or its PROXY header bad):
 * reads what is queued first, as much as DRAIN_BYTES, because closing a socket with unread bytes sends a
 * reset, which can overtake what the client was still to read; read, the close is an orderly FIN.
 */
export function closeDrained(fd: number): void {
  fdBackend.peeking?.discard(fd, DRAIN_BYTES);
  fdBackend.close(fd);
}

/** complete(), where a throw counts as enough: route() then meets the same bytes (as in readPreview). */
function isComplete(options: PreviewOptions, bytes: Buffer): boolean {
  try {
    return options.complete(bytes);
  } catch {
    return true;
  }
}
