/**
 * TransportSession: the transport state of one channel, both directions. Sending: handoffs issued in the
 * same tick leave in one TRANSPORT frame (one sendmsg for many descriptors), each is remembered until the
 * peer's ACK (close our copy, resolve) or NACK / channel loss (give it back, reject). Receiving: each
 * arriving descriptor is checked against its envelope, rebuilt as a Node object for whoever waits for it,
 * and acknowledged in batches; one nobody waits for is refused, so the sender keeps it. The session owns the
 * transport frame types on its channel and delivers the channel's `'transport'` event, both through the
 * channel's extension port.
 * @module
 */
import { fdBackend } from '../binding/index.js';
import type { Attachment, Channel, ChannelEvents, ChannelExtensionPort, ReceivedMessage } from '../channel/index.js';
import { PortunusError, type PortunusErrorCode } from '../errors.js';
import {
  decodeAck,
  decodeNack,
  decodeTransportPayload,
  encodeAck,
  encodeNack,
  encodeTransportPayload,
  salvageIds,
  type Envelope,
  type Refusal,
} from './envelope.js';
import { TransportFrame } from './frame-types.js';
import type { PreparedTransport } from './kinds/row.js';
import { adoptArrival, releaseAdopted, releaseQuietly, verifyArrival, type Adopted } from './kinds/table.js';

/** What a successful handoff reports. */
export interface Handoff {
  /** The id this handoff had on its channel. */
  id: number;
  /** What was handed off. */
  kind: Adopted['kind'];
}

interface Outgoing {
  id: number;
  prepared: PreparedTransport;
  envelope: Envelope;
  preRead: Buffer | undefined;
  keepOpen: boolean;
  resolve: (handoff: Handoff) => void;
  reject: (error: Error) => void;
}

type Waiter = { resolve: (adopted: Adopted) => void; reject: (error: Error) => void };

// The one place this layer names a file of the channel layer other than its index: an augmentation names the
// module that declares the interface (TypeDoc does not see one made through a re-export).
declare module '../channel/channel.js' {
  interface ChannelEvents {
    /**
     * A socket handed over by the peer, adopted and acknowledged. The listener owns it. While no listener
     * is attached (and no `adoptTransport()` waits), arriving transports are refused and stay the sender's.
     */
    transport: [adopted: Adopted];
  }
}

const sessions = new WeakMap<Channel, TransportSession>();

/**
 * The session of a channel. The transport layer's index has every channel's session made as the channel is
 * created, so that handoffs are answered on any channel; one made before that gets its session on first use.
 */
export function sessionOf(channel: Channel): TransportSession {
  let session = sessions.get(channel);
  if (session === undefined) {
    session = new TransportSession(channel);
    sessions.set(channel, session);
  }
  return session;
}

export class TransportSession {
  readonly #channel: Channel;
  readonly #port: ChannelExtensionPort<Pick<ChannelEvents, 'transport'>>;
  readonly #inFlight = new Map<number, Outgoing>();
  #batch: Outgoing[] = [];
  #nextId = 1;
  #acks: number[] = [];
  #refusals: Refusal[] = [];
  /** Adopted transports waiting for their ACK to be queued before the application gets them. */
  #adopted: Adopted[] = [];
  #replyScheduled = false;
  #waiters: Waiter[] = [];
  #closedError: Error | undefined;

  constructor(channel: Channel) {
    this.#channel = channel;
    this.#port = channel.extend({
      name: 'transport',
      frames: {
        [TransportFrame.TRANSPORT]: (message, truncated) => this.#onTransport(message, truncated),
        [TransportFrame.ACK]: (message) => this.#onAck(message),
        [TransportFrame.NACK]: (message) => this.#onNack(message),
      },
      events: ['transport'],
    });
    channel.once('close', (error) => this.#onChannelClosed(error));
  }

  /** Handoffs sent and not yet answered. */
  get inFlight(): number {
    return this.#inFlight.size + this.#batch.length;
  }

  /** Queues a prepared transport for the next TRANSPORT frame; resolves on the peer's ACK. */
  send(
    prepared: PreparedTransport,
    options: { metadata?: unknown; preRead?: Buffer; keepOpen?: boolean },
  ): Promise<Handoff> {
    return new Promise((resolve, reject) => {
      if (this.#channel.isClosed) {
        prepared.restore();
        reject(new PortunusError('ERR_PORTUNUS_CHANNEL_CLOSED', 'channel is closed', { cause: this.#closedError }));
        return;
      }
      const id = this.#allocateId();
      const preRead = joinPreRead(options.preRead, prepared.buffered);
      const envelope: Envelope = { id, kind: prepared.kind, ...prepared.fields, preRead: preRead?.length ?? 0 };
      if (options.metadata !== undefined) envelope.metadata = options.metadata;
      this.#batch.push({ id, prepared, envelope, preRead, keepOpen: options.keepOpen === true, resolve, reject });
      this.#inFlight.set(id, this.#batch[this.#batch.length - 1]!);
      if (this.#batch.length === 1) process.nextTick(() => this.#flushBatch());
    });
  }

  /** Resolves with the next transport adopted on this channel. */
  nextAdopted(): Promise<Adopted> {
    return new Promise((resolve, reject) => {
      if (this.#channel.isClosed) {
        reject(new PortunusError('ERR_PORTUNUS_CHANNEL_CLOSED', 'channel is closed', { cause: this.#closedError }));
        return;
      }
      this.#waiters.push({ resolve, reject });
    });
  }

  #allocateId(): number {
    let id = this.#nextId;
    while (this.#inFlight.has(id)) id = (id + 1) >>> 0;
    this.#nextId = (id + 1) >>> 0;
    return id;
  }

  #flushBatch(): void {
    const batch = this.#batch;
    this.#batch = [];
    // One frame per sendmsg worth of descriptors, so that no frame needs chunking.
    const perFrame = Math.max(1, fdBackend.maxFdsPerMessage);
    for (let start = 0; start < batch.length; start += perFrame) {
      const items = batch.slice(start, start + perFrame);
      const payload = encodeTransportPayload(
        items.map((item) => item.envelope),
        items.map((item) => item.preRead),
      );
      const attachments: Attachment[] = items.map((item) => item.prepared.attachment);
      this.#channel.writeFrame(TransportFrame.TRANSPORT, payload, attachments, (error) => {
        if (error === undefined) return;
        for (const item of items) this.#fail(item, error);
      });
    }
  }

  #fail(item: Outgoing, error: Error): void {
    if (this.#inFlight.get(item.id) !== item) return;
    this.#inFlight.delete(item.id);
    item.prepared.restore();
    item.reject(error);
  }

  #onAck(message: ReceivedMessage): void {
    let ids: number[];
    try {
      ids = decodeAck(message.payload);
    } catch (error) {
      // A malformed answer is the peer's bug; the handoffs it may have meant stay in flight until the
      // channel closes, and then go back to their owners.
      this.#port.warn(error as PortunusError);
      return;
    }
    for (const id of ids) {
      const item = this.#inFlight.get(id);
      if (item === undefined) continue;
      this.#inFlight.delete(id);
      if (!item.keepOpen) item.prepared.release();
      item.resolve({ id, kind: item.prepared.kind });
    }
  }

  #onNack(message: ReceivedMessage): void {
    let refusals: Refusal[];
    try {
      refusals = decodeNack(message.payload);
    } catch (error) {
      this.#port.warn(error as PortunusError);
      return;
    }
    for (const refusal of refusals) {
      const item = this.#inFlight.get(refusal.id);
      if (item === undefined) continue;
      const code = (
        refusal.code.startsWith('ERR_PORTUNUS_') ? refusal.code : 'ERR_PORTUNUS_HANDOFF_REFUSED'
      ) as PortunusErrorCode;
      this.#fail(
        item,
        new PortunusError(code, `peer refused transport ${refusal.id}: ${refusal.message}`, {
          id: refusal.id,
          remote: true,
        }),
      );
    }
  }

  #onTransport(message: ReceivedMessage, truncated: boolean): void {
    let batch;
    try {
      if (truncated)
        throw new PortunusError(
          'ERR_PORTUNUS_TRUNCATED',
          'the kernel dropped the descriptors of this transport frame (MSG_CTRUNC): out of file descriptors?',
        );
      batch = decodeTransportPayload(message.payload);
      if (batch.items.length !== message.fdCount) {
        throw new PortunusError(
          'ERR_PORTUNUS_BAD_ENVELOPE',
          `${batch.items.length} envelopes arrived with ${message.fdCount} descriptors`,
        );
      }
    } catch (error) {
      // The message releases its descriptors when this handler returns; refuse whatever ids can be read.
      const failure = error as PortunusError;
      for (const id of salvageIds(message.payload)) this.#refuse(id, failure.code, failure.message);
      this.#port.warn(failure);
      return;
    }
    for (let index = 0; index < batch.items.length; index++) {
      const envelope = batch.items[index]!;
      const attachment = message.takeAttachment(index)!;
      this.#receive(envelope, attachment, Buffer.from(batch.preReads[index]!));
    }
  }

  #receive(envelope: Envelope, attachment: Attachment, preRead: Buffer): void {
    const listening = this.#channel.listenerCount('transport') > 0;
    if (!listening && this.#waiters.length === 0) {
      releaseQuietly(attachment);
      this.#refuse(envelope.id, 'ERR_PORTUNUS_HANDOFF_REFUSED', 'nobody adopts transports on this channel');
      return;
    }
    try {
      verifyArrival(envelope, attachment);
    } catch (error) {
      releaseQuietly(attachment);
      this.#refuse(envelope.id, 'ERR_PORTUNUS_ENVELOPE_MISMATCH', (error as Error).message);
      this.#port.warn(error as PortunusError);
      return;
    }
    const failed = (error: PortunusError) => {
      this.#refuse(envelope.id, error.code, error.message);
      this.#port.warn(error);
    };
    let adopted: Adopted | Promise<Adopted>;
    try {
      adopted = adoptArrival(envelope, attachment, preRead);
    } catch (error) {
      failed(error as PortunusError);
      return;
    }
    // A connection is adopted at once (its ACK leaves with this tick's batch); a server or a UDP socket later.
    if (adopted instanceof Promise) adopted.then((ready) => this.#deliver(ready), failed);
    else this.#deliver(adopted);
  }

  #deliver(adopted: Adopted): void {
    // Handed to the application only once its ACK is queued (#reply): an adopter that closes the channel
    // as soon as it has the socket must not lose the ACK, or the sender would believe it still owns it.
    this.#adopted.push(adopted);
    this.#scheduleReply();
  }

  #refuse(id: number, code: string, message: string): void {
    this.#refusals.push({ id, code, message });
    this.#scheduleReply();
  }

  /** ACKs and NACKs of one tick leave together, one frame each. */
  #scheduleReply(): void {
    if (this.#replyScheduled) return;
    this.#replyScheduled = true;
    process.nextTick(() => this.#reply());
  }

  #reply(): void {
    this.#replyScheduled = false;
    const deliveries: Array<{ adopted: Adopted; waiter: Waiter | undefined }> = [];
    for (const adopted of this.#adopted.splice(0)) {
      const waiter = this.#waiters.shift();
      if (this.#channel.isClosed || (waiter === undefined && this.#channel.listenerCount('transport') === 0)) {
        // Nobody takes it (the last listener went away while a server was being rebuilt), or the ACK can no
        // longer be sent, so the sender still owns it: hand it back by closing our copy.
        releaseAdopted(adopted);
        this.#refusals.push({
          id: adopted.id,
          code: 'ERR_PORTUNUS_HANDOFF_REFUSED',
          message: 'nobody adopts transports on this channel',
        });
        continue;
      }
      this.#acks.push(adopted.id);
      deliveries.push({ adopted, waiter });
    }
    if (this.#channel.isClosed) {
      this.#acks = [];
      this.#refusals = [];
      return;
    }
    if (this.#acks.length > 0) this.#channel.writeFrame(TransportFrame.ACK, encodeAck(this.#acks.splice(0)), []);
    if (this.#refusals.length > 0)
      this.#channel.writeFrame(TransportFrame.NACK, encodeNack(this.#refusals.splice(0)), []);
    for (const { adopted, waiter } of deliveries) {
      if (waiter !== undefined) waiter.resolve(adopted);
      else this.#port.emit('transport', adopted);
    }
  }

  #onChannelClosed(error: Error | undefined): void {
    this.#closedError = error;
    const failure = new PortunusError(
      'ERR_PORTUNUS_CHANNEL_CLOSED',
      'channel closed before the peer acknowledged the handoff',
      { cause: error },
    );
    this.#batch = [];
    for (const item of [...this.#inFlight.values()]) this.#fail(item, failure);
    for (const waiter of this.#waiters.splice(0)) waiter.reject(failure);
  }
}

function joinPreRead(first: Buffer | undefined, second: Buffer | undefined): Buffer | undefined {
  if (first === undefined || first.length === 0) return second;
  if (second === undefined || second.length === 0) return first;
  return Buffer.concat([first, second]);
}
