/**
 * Channel: framed messages, each with 0..n file descriptors, between two processes. Handles the hello
 * exchange, the channel's own frame types (ping, error reports), descriptor ownership on receipt,
 * backpressure and the close/destroy lifecycle. A layer above owns frame types and delivers events on a
 * channel only through `extend()` (./extension.ts); an application registers frame types with `handle()`.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { PeerCredentials } from '../binding/index.js';
import { PortunusError, invalidArgument } from '../errors.js';
import { validateFunction, validateInteger, validateOptions, validateTimeout } from '../validate.js';
import {
  DEFAULT_MAX_PAYLOAD,
  FIRST_APPLICATION_TYPE,
  FrameType,
  MAX_FDS_PER_FRAME,
  PROTOCOL_VERSION,
} from './frame.js';
import { releaseAttachment, type Attachment, type FrameLink, type LinkFrame, type LinkHandlers } from './link.js';
import type { ChannelExtension, ChannelExtensionPort, FrameHandler } from './extension.js';
import { ReceivedMessage } from './received-message.js';

/** Options shared by every way of opening a channel. Each is a positive integer. */
export interface ChannelOptions {
  /** Largest payload accepted from the peer, in bytes. Default 16 MiB. */
  maxPayloadBytes?: number;
  /** Queued bytes above which `writableNeedDrain` is true until `'drain'`. Default 1 MiB. */
  highWaterMark?: number;
  /** Queued bytes above which `send()` rejects with ERR_PORTUNUS_QUEUE_FULL. Default 64 MiB. */
  maxQueuedBytes?: number;
  /** Time the peer has to send its hello, in milliseconds, at most 2^31 - 1. Default 10 000. */
  handshakeTimeoutMs?: number;
}

/** What the peer said about itself in its hello frame. */
export interface PeerHello {
  /** Protocol version the peer speaks. */
  protocol: number;
  /** Process id the peer reported (informational: use `peerCredentials()` for trust decisions). */
  pid: number | undefined;
  /** Optional capabilities the peer announced. */
  capabilities: string[];
}

/** Events of a {@link Channel}, with their listener arguments. */
export interface ChannelEvents {
  // The channel's own events (OWN_EVENTS). A layer built on the channel declares its events in this
  // interface beside the code that delivers them through its extension port: 'transport' in
  // src/transport/session.ts.
  /** The peer's hello arrived; frames may flow both ways. */
  ready: [hello: PeerHello];
  /** A message sent with `send()`. Take its descriptors synchronously or they are closed. */
  message: [message: ReceivedMessage];
  /** The write queue fell below the high-water mark. */
  drain: [];
  /** Something went wrong that did not end the channel (unknown frame type, an error the peer reported). */
  warning: [error: PortunusError];
  /** A failure that ends the channel; `'close'` follows with the same error. */
  error: [error: Error];
  /** The channel is closed; `error` is set when it ended because of a failure. Emitted once. */
  close: [error: Error | undefined];
}

/** The events the channel itself delivers; every other event in ChannelEvents belongs to one extension. */
const OWN_EVENTS = ['ready', 'message', 'drain', 'warning', 'error', 'close'] as const;

/** Events declared in ChannelEvents by the layers that extend the channel. */
type ExtensionEvent = Exclude<keyof ChannelEvents, (typeof OWN_EVENTS)[number]>;

const CAPABILITIES = ['fd-chunking'];
const DEFAULTS = {
  maxPayloadBytes: DEFAULT_MAX_PAYLOAD,
  highWaterMark: 1024 * 1024,
  maxQueuedBytes: 64 * 1024 * 1024,
  handshakeTimeoutMs: 10_000,
};

/** Resolved options, as the channel and its link use them. */
export type ResolvedChannelOptions = typeof DEFAULTS;

/**
 * Validates channel options and fills in defaults. Every way of opening a channel calls it before it
 * creates or takes a descriptor, so bad options throw with nothing to clean up.
 */
export function resolveChannelOptions(options: ChannelOptions | undefined): ResolvedChannelOptions {
  const given = validateOptions(options);
  const resolved = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as Array<keyof ResolvedChannelOptions>) {
    const value = given[key];
    if (value === undefined) continue;
    // A longer handshake timeout would make setTimeout fire at once.
    if (key === 'handshakeTimeoutMs') validateTimeout(value, `options.${key}`);
    else validateInteger(value, `options.${key}`, 1);
    resolved[key] = value;
  }
  return resolved;
}

type ChannelState = 'open' | 'closing' | 'closed';

/** What extends every channel as it is created; see extendEveryChannel(). */
const everyChannelExtenders: Array<(channel: Channel) => void> = [];

/**
 * @internal Calls `extendChannel` with every channel created from now on, inside its constructor, before
 * its hello is sent and before any frame can arrive; `extendChannel` calls `channel.extend()`. For a layer
 * whose frames any portunus peer may send on any channel: the transport layer, whose index calls it once,
 * so that a handoff is answered also on a channel where no transport function was called yet.
 */
export function extendEveryChannel(extendChannel: (channel: Channel) => void): void {
  everyChannelExtenders.push(extendChannel);
}

/**
 * A channel: ordered, framed messages with file descriptors, to one peer process. Get one from
 * `channelPair()`, `socketPairForChild()` + `channelFromFd()`, `connectChannel()` or `listenChannel()`.
 */
export class Channel extends EventEmitter<ChannelEvents> {
  readonly #link: FrameLink;
  readonly #options: ResolvedChannelOptions;
  readonly #handlers = new Map<number, FrameHandler>();
  /** Events delivered by extensions, each by one. */
  readonly #extensionEvents = new Set<string>();
  readonly #pings = new Map<
    number,
    { sent: bigint; resolve: (ms: number) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }
  >();
  #nextPingId = 1;
  #state: ChannelState = 'open';
  #hello: PeerHello | undefined;
  #handshakeTimer: NodeJS.Timeout | undefined;
  #closeError: Error | undefined;
  /**
   * Frames that arrived behind the peer's hello in the same read, held until the application has had its
   * turn (see #onFrames), and the end of the link if it came meanwhile.
   */
  #held: LinkFrame[] | undefined;
  #heldEnd: { error: Error | undefined } | undefined;
  readonly #ready: Promise<PeerHello>;
  readonly #closed: Promise<Error | undefined>;
  #settleReady!: { resolve: (hello: PeerHello) => void; reject: (error: Error) => void };
  #settleClosed!: (error: Error | undefined) => void;

  /**
   * @internal Channels come from `channelPair()`, `connectChannel()`, `listenChannel()` or
   * `channelFromFd()`. `openLink` receives the handlers the link must call.
   */
  constructor(
    openLink: (handlers: LinkHandlers, options: ResolvedChannelOptions) => FrameLink,
    options: ResolvedChannelOptions,
  ) {
    super();
    this.#options = options;
    this.#ready = new Promise<PeerHello>((resolve, reject) => {
      this.#settleReady = { resolve, reject };
    });
    // `ready` rejects when the channel dies first; nobody is obliged to await it.
    this.#ready.catch(() => {});
    this.#closed = new Promise((resolve) => {
      this.#settleClosed = resolve;
    });
    this.#link = openLink(
      {
        frames: (frames) => this.#onFrames(frames),
        ended: (error) => {
          // Held frames came first; the end (clean or not) is reported after them, as without holding.
          if (this.#held !== undefined) this.#heldEnd ??= { error };
          else this.destroy(error);
        },
        drained: () => this.emit('drain'),
      },
      options,
    );
    for (const extendChannel of everyChannelExtenders) extendChannel(this);
    const hello = { protocol: PROTOCOL_VERSION, pid: process.pid, capabilities: CAPABILITIES };
    this.#link.write(FrameType.HELLO, Buffer.from(JSON.stringify(hello)), []);
    this.#handshakeTimer = setTimeout(() => {
      this.destroy(
        new PortunusError(
          'ERR_PORTUNUS_HANDSHAKE_TIMEOUT',
          `peer sent no hello within ${options.handshakeTimeoutMs} ms`,
        ),
      );
    }, options.handshakeTimeoutMs);
    this.#handshakeTimer.unref();
  }

  /** Resolves with the peer's hello; rejects if the channel closes before it arrives. */
  get ready(): Promise<PeerHello> {
    return this.#ready;
  }

  /** Resolves (never rejects) when the channel has closed, with the error that closed it, if any. */
  get closed(): Promise<Error | undefined> {
    return this.#closed;
  }

  /** True once the channel is closing or closed: `send()` rejects from then on. */
  get isClosed(): boolean {
    return this.#state !== 'open';
  }

  /** The peer's hello, once it has arrived. */
  get peer(): PeerHello | undefined {
    return this.#hello;
  }

  /** Bytes queued for the peer and not yet accepted by the kernel. */
  get queuedBytes(): number {
    return this.#link.queuedBytes;
  }

  /** True while the queue is above the high-water mark; wait for `'drain'` before sending more. */
  get writableNeedDrain(): boolean {
    return this.#link.queuedBytes >= this.#options.highWaterMark;
  }

  /**
   * Credentials of the peer process as the kernel recorded them when it connected (SO_PEERCRED), or
   * undefined once closed or where the backend cannot tell. For a socketpair (`channelPair()`,
   * `socketPairForChild()`) the kernel records the process that created the pair, so a child's channel
   * reports its parent here and the parent's reports itself.
   */
  peerCredentials(): PeerCredentials | undefined {
    return this.#state === 'closed' ? undefined : this.#link.peerCredentials();
  }

  /**
   * Sends a message: `payload` plus descriptors. The caller keeps ownership of `fds` and must keep them open
   * until the promise resolves (the kernel then holds its own reference; closing them afterwards does not
   * affect the peer's copies). Resolves when the whole frame is in the kernel; rejects with
   * ERR_PORTUNUS_CHANNEL_CLOSED, ERR_PORTUNUS_QUEUE_FULL, ERR_PORTUNUS_FRAME_TOO_LARGE or
   * ERR_PORTUNUS_TOO_MANY_FDS.
   */
  send(payload: Uint8Array | string = Buffer.alloc(0), fds: readonly number[] = []): Promise<void> {
    return this.sendFrame(FrameType.DATA, payload, fds);
  }

  /** Which backend carries this channel: descriptors ('unix') or Node's own IPC handles ('node-ipc'). */
  get backend(): 'unix' | 'node-ipc' {
    return this.#link.attachmentKind === 'fd' ? 'unix' : 'node-ipc';
  }

  /** Like `send()` with an explicit frame type; for layers built on the channel. */
  sendFrame(type: number, payload: Uint8Array | string, fds: readonly Attachment[] = []): Promise<void> {
    return new Promise((resolve, reject) => {
      this.writeFrame(type, payload, fds, (error) => (error === undefined ? resolve() : reject(error)));
    });
  }

  /**
   * The callback form of `sendFrame()`, without a promise per frame; `done` is called exactly once.
   * Argument errors are thrown; every other failure goes to `done`.
   */
  writeFrame(
    type: number,
    payload: Uint8Array | string,
    fds: readonly Attachment[],
    done?: (error?: Error) => void,
  ): void {
    if (type !== FrameType.DATA && (!Number.isInteger(type) || type < FIRST_APPLICATION_TYPE || type > 0xff)) {
      // Types below 0x10 belong to the channel itself (hello, ping, error reports).
      throw invalidArgument('type', `2 (DATA) or an integer from ${FIRST_APPLICATION_TYPE} to 255`, type, 'value');
    }
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    if (!(bytes instanceof Uint8Array)) throw invalidArgument('payload', 'a Uint8Array or a string', payload);
    if (
      !Array.isArray(fds) ||
      !fds.every((fd) => (Number.isInteger(fd) && (fd as number) >= 0) || (typeof fd === 'object' && fd !== null))
    ) {
      throw invalidArgument('fds', 'an array of file descriptors', fds);
    }
    if (done !== undefined) validateFunction(done, 'done');
    let failure: PortunusError | undefined;
    if (this.#state !== 'open') {
      failure = new PortunusError('ERR_PORTUNUS_CHANNEL_CLOSED', 'channel is closed', { cause: this.#closeError });
    } else if (fds.length > MAX_FDS_PER_FRAME) {
      failure = new PortunusError(
        'ERR_PORTUNUS_TOO_MANY_FDS',
        `a frame carries at most ${MAX_FDS_PER_FRAME} descriptors, got ${fds.length}`,
      );
    } else if (bytes.length > this.#options.maxPayloadBytes) {
      failure = new PortunusError(
        'ERR_PORTUNUS_FRAME_TOO_LARGE',
        `payload of ${bytes.length} bytes exceeds ${this.#options.maxPayloadBytes}`,
      );
    } else if (this.#link.queuedBytes + bytes.length > this.#options.maxQueuedBytes) {
      failure = new PortunusError(
        'ERR_PORTUNUS_QUEUE_FULL',
        `more than ${this.#options.maxQueuedBytes} bytes queued for the peer`,
      );
    }
    if (failure !== undefined) {
      if (done !== undefined) process.nextTick(done, failure);
      return;
    }
    this.#link.write(type, bytes, fds, done);
  }

  /**
   * Registers the handler for an application frame type (0x10–0xff). Frames of a type nobody handles are
   * refused: their descriptors are closed and the peer is told. Returns a function that unregisters.
   */
  handle(type: number, handler: FrameHandler): () => void {
    validateInteger(type, 'type', FIRST_APPLICATION_TYPE, 0xff);
    validateFunction(handler, 'handler');
    if (this.#handlers.has(type)) throw invalidArgument('type', 'a frame type without a handler', type, 'value');
    this.#handlers.set(type, handler);
    return () => {
      if (this.#handlers.get(type) === handler) this.#handlers.delete(type);
    };
  }

  /**
   * @internal How a layer above the channel attaches to it: the extension's frame types are handled by its
   * handlers from now on, and the port returned is the extension's only way to deliver its events (and
   * warnings) to the channel's listeners. Everything is checked before anything is registered: a frame type
   * outside 0x10–0xff or already handled, or an event that is the channel's own or another extension's,
   * throws ERR_INVALID_ARG_VALUE and leaves the channel as it was.
   */
  extend<E extends ExtensionEvent = never>(
    extension: ChannelExtension<E>,
  ): ChannelExtensionPort<Pick<ChannelEvents, E>> {
    const frames = Object.entries(extension.frames).map(([key, handler]) => [Number(key), handler] as const);
    for (const [type, handler] of frames) {
      if (!Number.isInteger(type) || type < FIRST_APPLICATION_TYPE || type > 0xff || this.#handlers.has(type)) {
        throw invalidArgument(
          `${extension.name}.frames`,
          `frame types from ${FIRST_APPLICATION_TYPE} to 255 that have no handler yet`,
          type,
          'value',
        );
      }
      validateFunction(handler, `${extension.name}.frames[${type}]`);
    }
    const events = extension.events ?? [];
    for (const event of events) {
      if ((OWN_EVENTS as readonly string[]).includes(event) || this.#extensionEvents.has(event)) {
        throw invalidArgument(
          `${extension.name}.events`,
          'events that neither the channel nor another extension delivers',
          event,
          'value',
        );
      }
    }
    for (const [type, handler] of frames) this.#handlers.set(type, handler);
    for (const event of events) this.#extensionEvents.add(event);
    // The port's type admits the extension's own events only; the channel's emit is typed for all events.
    const emit = this.emit.bind(this) as (event: string, ...args: unknown[]) => boolean;
    return {
      emit: (event, ...args) => void emit(event as string, ...args),
      warn: (error) => void this.emit('warning', error),
    };
  }

  /**
   * Round trip to the peer and back, in milliseconds. Rejects with ERR_PORTUNUS_PING_TIMEOUT when no answer
   * comes within `timeoutMs` (an integer from 1 to 2^31 - 1).
   */
  ping(timeoutMs = 5000): Promise<number> {
    validateTimeout(timeoutMs, 'timeoutMs');
    return new Promise((resolve, reject) => {
      if (this.#state !== 'open') {
        reject(new PortunusError('ERR_PORTUNUS_CHANNEL_CLOSED', 'channel is closed', { cause: this.#closeError }));
        return;
      }
      const id = this.#nextPingId++ >>> 0;
      const timer = setTimeout(() => {
        this.#pings.delete(id);
        reject(new PortunusError('ERR_PORTUNUS_PING_TIMEOUT', `peer did not answer a ping within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.#pings.set(id, { sent: process.hrtime.bigint(), resolve, reject, timer });
      const payload = Buffer.allocUnsafe(4);
      payload.writeUInt32BE(id);
      this.#link.write(FrameType.PING, payload, []);
    });
  }

  /** Keeps the process alive while the channel is open (the default). */
  ref(): this {
    this.#link.ref();
    return this;
  }

  /** Lets the process exit even though the channel is open. */
  unref(): this {
    this.#link.unref();
    return this;
  }

  /**
   * Stops sending, waits until every queued frame is in the kernel, then closes. Idempotent; resolves when
   * the channel is closed.
   */
  async close(): Promise<void> {
    if (this.#state === 'open') {
      this.#state = 'closing';
      await this.#link.flushed();
      this.destroy();
    }
    await this.#closed;
  }

  /**
   * Closes at once: queued frames fail with ERR_PORTUNUS_CHANNEL_CLOSED and descriptors of a partly
   * received frame are closed. With `error`, `'error'` is emitted before `'close'`. Idempotent.
   */
  destroy(error?: Error): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#closeError = error;
    clearTimeout(this.#handshakeTimer);
    const closedError = new PortunusError('ERR_PORTUNUS_CHANNEL_CLOSED', 'channel is closed', { cause: error });
    this.#link.close(closedError);
    for (const ping of this.#pings.values()) {
      clearTimeout(ping.timer);
      ping.reject(closedError);
    }
    this.#pings.clear();
    if (this.#hello === undefined) this.#settleReady.reject(error ?? closedError);
    if (error !== undefined) this.emit('error', error);
    this.emit('close', error);
    this.#settleClosed(error);
  }

  #onFrames(frames: LinkFrame[]): void {
    if (this.#held !== undefined) {
      this.#held.push(...frames);
      return;
    }
    let listenerError: unknown;
    let index = 0;
    try {
      for (; index < frames.length; index++) {
        const frame = frames[index]!;
        if (this.#state === 'closed') {
          for (const fd of frame.fds) this.#closeReceived(fd);
          continue;
        }
        try {
          this.#dispatch(frame);
        } catch (error) {
          // A throwing listener is the application's bug; keep the channel consistent, report it after.
          listenerError ??= error;
        }
        if (frame.type === FrameType.HELLO && index + 1 < frames.length && this.#state === 'open') {
          // The hello just settled `ready`, but code awaiting it (connectChannel(), 'channel' listeners)
          // runs only after this read: frames the peer sent right behind its hello would reach no listener
          // yet ('message' lost, a socket handed off refused). Hold them for one turn of the event loop.
          this.#held = frames.slice(index + 1);
          index = frames.length;
          setImmediate(() => this.#releaseHeld());
        }
      }
    } finally {
      for (index++; index < frames.length; index++) for (const fd of frames[index]!.fds) this.#closeReceived(fd);
    }
    if (listenerError !== undefined) throw listenerError;
  }

  #releaseHeld(): void {
    const held = this.#held!;
    const end = this.#heldEnd;
    this.#held = undefined;
    this.#heldEnd = undefined;
    try {
      this.#onFrames(held);
    } finally {
      if (end !== undefined) this.destroy(end.error);
    }
  }

  #dispatch(frame: LinkFrame): void {
    if (this.#hello === undefined && frame.type !== FrameType.HELLO) {
      for (const fd of frame.fds) this.#closeReceived(fd);
      this.destroy(
        new PortunusError('ERR_PORTUNUS_BAD_FRAME', `frame of type ${frame.type} arrived before the peer's hello`),
      );
      return;
    }
    switch (frame.type) {
      case FrameType.HELLO:
        this.#onHello(frame);
        return;
      case FrameType.DATA:
        this.#deliver(frame, (message) => this.emit('message', message));
        return;
      case FrameType.PING:
        this.#closeAll(frame);
        if (frame.payload.length === 4) this.#link.write(FrameType.PONG, frame.payload, []);
        return;
      case FrameType.PONG:
        this.#closeAll(frame);
        this.#onPong(frame.payload);
        return;
      case FrameType.ERROR:
        this.#closeAll(frame);
        this.#onRemoteError(frame.payload);
        return;
    }
    const handler = this.#handlers.get(frame.type);
    if (handler !== undefined) {
      const message = new ReceivedMessage(frame.type, frame.payload, frame.fds);
      try {
        handler(message, frame.truncated);
      } finally {
        message.release();
      }
      return;
    }
    this.#closeAll(frame);
    this.#refuse(
      frame.type,
      'ERR_PORTUNUS_UNKNOWN_FRAME_TYPE',
      `no handler for frame type 0x${frame.type.toString(16)}`,
    );
  }

  #deliver(frame: LinkFrame, emit: (message: ReceivedMessage) => void): void {
    if (frame.truncated) {
      this.#refuse(
        frame.type,
        'ERR_PORTUNUS_TRUNCATED',
        'the kernel dropped descriptors of a message (MSG_CTRUNC): the receiver may be out of file descriptors',
      );
      return;
    }
    const message = new ReceivedMessage(frame.type, frame.payload, frame.fds);
    try {
      emit(message);
    } finally {
      message.release();
    }
  }

  /** Reports a refused frame locally (as a warning) and to the peer (as an ERROR frame). */
  #refuse(type: number, code: 'ERR_PORTUNUS_UNKNOWN_FRAME_TYPE' | 'ERR_PORTUNUS_TRUNCATED', message: string): void {
    this.emit('warning', new PortunusError(code, message, { frameType: type }));
    this.#link.write(FrameType.ERROR, Buffer.from(JSON.stringify({ code, message, frameType: type })), []);
  }

  #onHello(frame: LinkFrame): void {
    this.#closeAll(frame);
    if (this.#hello !== undefined) {
      this.destroy(new PortunusError('ERR_PORTUNUS_BAD_FRAME', 'peer sent a second hello'));
      return;
    }
    let hello: PeerHello;
    try {
      const parsed = JSON.parse(frame.payload.toString('utf8')) as {
        protocol?: unknown;
        pid?: unknown;
        capabilities?: unknown;
      };
      if (typeof parsed.protocol !== 'number') throw new Error('protocol is not a number');
      hello = {
        protocol: parsed.protocol,
        pid: typeof parsed.pid === 'number' ? parsed.pid : undefined,
        capabilities: Array.isArray(parsed.capabilities)
          ? parsed.capabilities.filter((c): c is string => typeof c === 'string')
          : [],
      };
    } catch (cause) {
      this.destroy(new PortunusError('ERR_PORTUNUS_BAD_FRAME', 'peer sent a malformed hello', { cause }));
      return;
    }
    if (hello.protocol !== PROTOCOL_VERSION) {
      this.destroy(
        new PortunusError(
          'ERR_PORTUNUS_VERSION_MISMATCH',
          `peer speaks protocol ${hello.protocol}, this side ${PROTOCOL_VERSION}`,
        ),
      );
      return;
    }
    clearTimeout(this.#handshakeTimer);
    this.#hello = hello;
    this.#settleReady.resolve(hello);
    this.emit('ready', hello);
  }

  #onPong(payload: Buffer): void {
    if (payload.length !== 4) return;
    const ping = this.#pings.get(payload.readUInt32BE(0));
    if (ping === undefined) return;
    this.#pings.delete(payload.readUInt32BE(0));
    clearTimeout(ping.timer);
    ping.resolve(Number(process.hrtime.bigint() - ping.sent) / 1e6);
  }

  #onRemoteError(payload: Buffer): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload.toString('utf8'));
    } catch {
      // A garbled report is still a report.
    }
    // Only what has the documented type is passed on (docs/protocol.md §3): a payload that is not a JSON
    // object (`null` included) reports an error with no code, never a crash in the read path.
    const report = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as {
      code?: unknown;
      message?: unknown;
      frameType?: unknown;
    };
    this.emit(
      'warning',
      new PortunusError(
        'ERR_PORTUNUS_REMOTE',
        `peer reported: ${typeof report.message === 'string' ? report.message : 'an error'}`,
        {
          remoteCode: typeof report.code === 'string' ? report.code : undefined,
          frameType: Number.isInteger(report.frameType) ? report.frameType : undefined,
        },
      ),
    );
  }

  #closeAll(frame: LinkFrame): void {
    for (const fd of frame.fds) this.#closeReceived(fd);
  }

  #closeReceived(attachment: Attachment): void {
    releaseAttachment(attachment);
  }
}

/**
 * @internal Resolves with `channel` once the peer's hello has arrived, provided the channel is still open
 * then; rejects otherwise, with the error that closed it. A hello and the end of the connection can arrive
 * in one read (a peer that says hello, starts a frame and hangs up): `ready` resolves, but by the time code
 * awaiting it runs, the channel has closed and its `'error'` and `'close'` have gone to no listener. Such a
 * channel must not be handed to an application (`listenChannel()`'s `'channel'`, `connectChannel()`), which
 * would wait on it forever; a clean end right after the hello rejects with ERR_PORTUNUS_CHANNEL_CLOSED.
 */
export function openedChannel(channel: Channel): Promise<Channel> {
  return new Promise((resolve, reject) => {
    let ended: { error: Error | undefined } | undefined;
    const onClose = (error: Error | undefined) => {
      ended = { error };
    };
    channel.once('close', onClose);
    channel.ready.then(
      () => {
        channel.off('close', onClose);
        if (ended === undefined) resolve(channel);
        else
          reject(
            ended.error ??
              new PortunusError('ERR_PORTUNUS_CHANNEL_CLOSED', 'the peer closed the channel right after its hello'),
          );
      },
      (error: Error) => {
        channel.off('close', onClose);
        reject(error);
      },
    );
  });
}
