/**
 * EndpointLink: frames over the native SCM_RIGHTS endpoint. Owns the write queue: frames are written in
 * order, fd-less frames that follow one another are coalesced into one sendmsg, a frame with descriptors
 * always starts its own sendmsg (the receiver relies on that, see ./frame-decoder.ts), and a frame with
 * more descriptors than one sendmsg may carry goes out in chunks of one header byte each. EAGAIN, ENOBUFS
 * and ETOOMANYREFS leave the queue in place until the socket is writable again; nothing ever blocks.
 * @module
 */
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { closeMarkedFds, fdBackend, type NativeEndpoint, type PeerCredentials } from '../binding/index.js';
import { PortunusError, systemError } from '../errors.js';
import { encodeFrame } from './frame.js';
import { FrameDecoder } from './frame-decoder.js';
import type { Attachment, FrameLink, LinkHandlers, WriteCallback } from './link.js';

const { EAGAIN, EWOULDBLOCK, ENOBUFS, EPIPE, ECONNRESET } = constants.errno as Record<string, number>;
/** Upper bound on one coalesced write, so a long queue of small frames is not copied in one piece. */
const COALESCE_LIMIT = 256 * 1024;
/**
 * ETOOMANYREFS (too many descriptors in flight for this user) does not come with a writability event: the
 * receiver has to read first. Retry on a short timer instead.
 */
const IN_FLIGHT_RETRY_MS = 5;
/**
 * After EPIPE the read side normally ends at once (the peer closed its socket). A peer that only shut down
 * its reading side keeps ours open: end the link after this long instead of leaving sends queued forever.
 */
const WRITE_CLOSED_GRACE_MS = 1000;

interface QueuedFrame {
  bytes: Buffer;
  fds: Int32Array | null;
  sentBytes: number;
  sentFds: number;
  done: WriteCallback | undefined;
}

export interface EndpointLinkOptions {
  maxPayload: number;
  highWaterMark: number;
}

export class EndpointLink implements FrameLink {
  readonly #fd: number;
  readonly #endpoint: NativeEndpoint;
  readonly #decoder: FrameDecoder;
  readonly #handlers: LinkHandlers;
  readonly #highWaterMark: number;
  readonly #maxFdsPerWrite: number;
  #queue: QueuedFrame[] = [];
  #head = 0;
  #queuedBytes = 0;
  #needDrain = false;
  #waiting = false;
  #flushScheduled = false;
  #closed = false;
  #flushWaiters: Array<() => void> = [];
  #writeClosedTimer: NodeJS.Timeout | undefined;

  /** Takes ownership of fd, a connected Unix stream socket. */
  constructor(fd: number, handlers: LinkHandlers, options: EndpointLinkOptions) {
    this.#fd = fd;
    this.#handlers = handlers;
    this.#highWaterMark = options.highWaterMark;
    this.#maxFdsPerWrite = fdBackend.maxFdsPerMessage;
    this.#decoder = new FrameDecoder(options.maxPayload, (received) => fdBackend.close(received));
    this.#endpoint = fdBackend.createEndpoint(
      fd,
      (data, marks, status) => this.#onRead(data, marks, status),
      () => this.#onWritable(),
    );
    this.#endpoint.readStart();
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  get attachmentKind(): 'fd' {
    return 'fd';
  }

  peerCredentials(): PeerCredentials | undefined {
    return this.#closed ? undefined : fdBackend.peerCredentials(this.#fd);
  }

  write(type: number, payload: Uint8Array, fds: readonly Attachment[], done?: WriteCallback): void {
    if (this.#closed) {
      done?.(new PortunusError('ERR_PORTUNUS_CHANNEL_CLOSED', 'channel is closed'));
      return;
    }
    if (!fds.every((fd) => typeof fd === 'number')) {
      done?.(
        new PortunusError(
          'ERR_PORTUNUS_UNSUPPORTED',
          'a descriptor channel carries file descriptors, not Node handles',
        ),
      );
      return;
    }
    const bytes = encodeFrame(type, payload, fds.length);
    this.#queue.push({
      bytes,
      fds: fds.length > 0 ? Int32Array.from(fds as readonly number[]) : null,
      sentBytes: 0,
      sentFds: 0,
      done,
    });
    this.#queuedBytes += bytes.length;
    if (this.#queuedBytes >= this.#highWaterMark) this.#needDrain = true;
    if (!this.#flushScheduled && !this.#waiting) {
      // Writes issued in the same tick (acks, a burst of handoffs) leave in as few sendmsg calls as possible.
      this.#flushScheduled = true;
      process.nextTick(() => {
        this.#flushScheduled = false;
        this.#flush();
      });
    }
  }

  flushed(): Promise<void> {
    if (this.#closed || this.#head === this.#queue.length) return Promise.resolve();
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  close(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#writeClosedTimer);
    this.#endpoint.close();
    this.#decoder.dispose();
    const pending = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    this.#queuedBytes = 0;
    for (const frame of pending) frame.done?.(error);
    this.#resolveFlushWaiters();
  }

  ref(): void {
    if (!this.#closed) this.#endpoint.ref();
  }

  unref(): void {
    if (!this.#closed) this.#endpoint.unref();
  }

  #onRead(data: Buffer | undefined, marks: Int32Array | undefined, status: number): void {
    if (this.#closed) {
      // Descriptors that arrive after close still have to go somewhere: close them.
      if (marks !== undefined) closeMarkedFds(marks, (fd) => fdBackend.close(fd));
      return;
    }
    let frames;
    try {
      frames = this.#decoder.push(data, marks);
    } catch (error) {
      this.#handlers.ended(error as Error);
      return;
    }
    if (frames.length > 0) this.#handlers.frames(frames);
    if (status === 0 || this.#closed) return;
    if (status === 1) {
      this.#handlers.ended(
        this.#decoder.inFrame
          ? new PortunusError('ERR_PORTUNUS_BAD_FRAME', 'peer closed the channel in the middle of a frame')
          : undefined,
      );
    } else {
      this.#handlers.ended(systemError(status, 'recvmsg', getSystemErrorName(status), this.#fd));
    }
  }

  #onWritable(): void {
    this.#waiting = false;
    this.#flush();
  }

  #flush(): void {
    while (!this.#closed && !this.#waiting && this.#head < this.#queue.length) {
      const frame = this.#queue[this.#head]!;
      const fdsLeft = frame.fds === null ? 0 : frame.fds.length - frame.sentFds;
      let written: number;
      if (fdsLeft > this.#maxFdsPerWrite) {
        // One byte of the frame carries one full chunk of descriptors.
        const chunk = frame.fds!.subarray(frame.sentFds, frame.sentFds + this.#maxFdsPerWrite);
        written = this.#endpoint.write(frame.bytes, frame.sentBytes, 1, chunk);
        if (written > 0) frame.sentFds += chunk.length;
      } else {
        written = this.#writeCoalesced(frame, fdsLeft);
      }
      if (written < 0) {
        this.#onWriteError(written);
        return;
      }
      this.#account(written);
    }
    if (this.#head === this.#queue.length && this.#head > 0) {
      this.#queue = [];
      this.#head = 0;
      this.#resolveFlushWaiters();
    }
  }

  /** Writes the head frame's remaining bytes plus the fd-less frames after it; returns bytes written. */
  #writeCoalesced(frame: QueuedFrame, fdsLeft: number): number {
    const fds = fdsLeft > 0 ? frame.fds!.subarray(frame.sentFds) : undefined;
    let last = this.#head;
    let total = frame.bytes.length - frame.sentBytes;
    while (last + 1 < this.#queue.length) {
      const next = this.#queue[last + 1]!;
      if (next.fds !== null || total + next.bytes.length > COALESCE_LIMIT) break;
      total += next.bytes.length;
      last++;
    }
    let written: number;
    if (last === this.#head) {
      written = this.#endpoint.write(frame.bytes, frame.sentBytes, total, fds);
    } else {
      const parts = [frame.bytes.subarray(frame.sentBytes)];
      for (let i = this.#head + 1; i <= last; i++) parts.push(this.#queue[i]!.bytes);
      written = this.#endpoint.write(Buffer.concat(parts, total), 0, total, fds);
    }
    if (written > 0 && fds !== undefined) frame.sentFds = frame.fds!.length;
    return written;
  }

  /** Moves `written` bytes from the queue's head frames to the kernel's side of the ledger. */
  #account(written: number): void {
    let left = written;
    while (left > 0) {
      const frame = this.#queue[this.#head]!;
      const remaining = frame.bytes.length - frame.sentBytes;
      if (left < remaining) {
        frame.sentBytes += left;
        return;
      }
      left -= remaining;
      frame.sentBytes = frame.bytes.length;
      this.#queue[this.#head] = undefined as unknown as QueuedFrame;
      this.#head++;
      this.#queuedBytes -= frame.bytes.length;
      frame.done?.();
      if (this.#needDrain && this.#queuedBytes < this.#highWaterMark) {
        this.#needDrain = false;
        this.#handlers.drained();
      }
      if (this.#closed) return;
    }
  }

  #onWriteError(negativeErrno: number): void {
    if (negativeErrno === -EAGAIN || negativeErrno === -EWOULDBLOCK || negativeErrno === -ENOBUFS) {
      this.#waiting = true;
      this.#endpoint.awaitWritable();
      return;
    }
    if (negativeErrno === -fdBackend.tooManyRefsErrno) {
      this.#waiting = true;
      setTimeout(() => this.#onWritable(), IN_FLIGHT_RETRY_MS).unref();
      return;
    }
    const error = systemError(negativeErrno, 'sendmsg', getSystemErrorName(negativeErrno), this.#fd);
    if (negativeErrno === -EPIPE || negativeErrno === -ECONNRESET) {
      // The peer is gone, but what it sent before it closed may still wait in our receive buffer: a peer that
      // sends a message and exits before this side's hello goes out is the common case. Ending now would drop
      // that message. Stop writing (queued frames fail when the link closes) and let the read side deliver
      // what is left and report the end of stream or the reset that follows it.
      this.#waiting = true;
      this.#writeClosedTimer = setTimeout(() => this.#handlers.ended(error), WRITE_CLOSED_GRACE_MS).unref();
      return;
    }
    this.#handlers.ended(error);
  }

  #resolveFlushWaiters(): void {
    const waiters = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
