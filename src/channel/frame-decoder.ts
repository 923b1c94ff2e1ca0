/**
 * Turns the byte stream and the descriptors that arrived with it back into frames, and checks that each
 * frame got exactly the descriptors it announces.
 *
 * What the kernel guarantees (unix(7), net/unix/af_unix.c): descriptors come with the recvmsg that reads the
 * first byte of the sendmsg that carried them, and that recvmsg ends with the last byte of that sendmsg; it
 * may start earlier, with bytes of sendmsg calls that carried none.
 *
 * What the sender guarantees (./endpoint-link.ts): a sendmsg with descriptors starts at the first byte of the
 * frame that owns them, or — when one frame carries more than one sendmsg may — at byte k of that frame's
 * header for its k-th chunk.
 *
 * So a frame whose header starts at stream position p finds its descriptors among those that arrived with
 * reads that began at or before p + HEADER_SIZE - 1 and ended after p. Descriptors whose read ended before
 * the frame that should own them began, or a frame that finds fewer than it announces, break the protocol.
 * @module
 */
import { forEachArrival, TRUNCATED } from '../binding/index.js';
import { PortunusError } from '../errors.js';
import { HEADER_SIZE, decodeHeader, type FrameHeader } from './frame.js';

export interface DecodedFrame {
  type: number;
  payload: Buffer;
  /** Descriptors owned by whoever receives the frame; empty when `truncated`. */
  fds: number[];
  /** The kernel dropped some of this frame's descriptors (MSG_CTRUNC); the rest were closed already. */
  truncated: boolean;
}

/** A received descriptor (or, with fd -1, a read the kernel truncated) and the stream range of its read. */
interface Arrival {
  fd: number;
  start: number;
  end: number;
}

const EMPTY = Buffer.alloc(0);

export class FrameDecoder {
  readonly #maxPayload: number;
  readonly #closeFd: (fd: number) => void;
  /** Stream position of the next byte to consume. */
  #position = 0;
  /** Stream position where the frame in progress began. */
  #frameStart = 0;
  #headerBytes: Buffer | null = null;
  #header: FrameHeader | null = null;
  #payloadChunks: Buffer[] = [];
  #payloadReceived = 0;
  #frameFds: number[] = [];
  #frameTruncated = false;
  #arrivals: Arrival[] = [];

  constructor(maxPayload: number, closeFd: (fd: number) => void) {
    this.#maxPayload = maxPayload;
    this.#closeFd = closeFd;
  }

  /** True when a frame has begun but not ended, or descriptors wait for their frame. */
  get inFrame(): boolean {
    return this.#headerBytes !== null || this.#header !== null || this.#arrivals.length > 0;
  }

  /**
   * Feeds one batch from the endpoint (layout of `marks`: ../binding/read-marks.ts). Returns the completed
   * frames. On a protocol violation it closes every descriptor it holds or was given, and throws.
   */
  push(data: Buffer | undefined, marks: Int32Array | undefined): DecodedFrame[] {
    const frames: DecodedFrame[] = [];
    const bytes = data ?? EMPTY;
    const base = this.#position;
    if (marks !== undefined) {
      forEachArrival(marks, (fd, offset, length) =>
        this.#arrivals.push({ fd, start: base + offset, end: base + offset + length }),
      );
    }
    try {
      this.#consume(bytes, frames);
      // Every read of this batch has been consumed whole. Descriptors still waiting can only belong to a
      // frame whose header is still incomplete.
      if (this.#headerBytes === null) this.#rejectOrphans(this.#position);
    } catch (error) {
      for (const frame of frames) for (const fd of frame.fds) this.#closeFd(fd);
      this.dispose();
      throw error;
    }
    return frames;
  }

  /** Closes every descriptor held for frames not complete yet. Idempotent. */
  dispose(): void {
    for (const fd of this.#frameFds) this.#closeFd(fd);
    for (const arrival of this.#arrivals) if (arrival.fd !== TRUNCATED) this.#closeFd(arrival.fd);
    this.#arrivals = [];
    this.#resetFrame();
  }

  #resetFrame(): void {
    this.#headerBytes = null;
    this.#header = null;
    this.#payloadChunks = [];
    this.#payloadReceived = 0;
    this.#frameFds = [];
    this.#frameTruncated = false;
  }

  #consume(bytes: Buffer, frames: DecodedFrame[]): void {
    let offset = 0;
    const end = bytes.length;
    while (offset < end) {
      if (this.#header === null) {
        if (this.#headerBytes === null) this.#frameStart = this.#position;
        if (this.#headerBytes === null && end - offset >= HEADER_SIZE) {
          this.#setHeader(decodeHeader(bytes, offset, this.#maxPayload));
          offset += HEADER_SIZE;
          this.#position += HEADER_SIZE;
        } else {
          const have = this.#headerBytes?.length ?? 0;
          const take = Math.min(HEADER_SIZE - have, end - offset);
          const slice = bytes.subarray(offset, offset + take);
          this.#headerBytes = have === 0 ? Buffer.from(slice) : Buffer.concat([this.#headerBytes!, slice]);
          offset += take;
          this.#position += take;
          if (this.#headerBytes.length < HEADER_SIZE) continue;
          this.#setHeader(decodeHeader(this.#headerBytes, 0, this.#maxPayload));
          this.#headerBytes = null;
        }
      }
      const header = this.#header!;
      const take = Math.min(header.payloadLength - this.#payloadReceived, end - offset);
      if (take > 0) {
        // Copy, so that a small payload kept by the application does not pin the whole read batch.
        this.#payloadChunks.push(Buffer.from(bytes.subarray(offset, offset + take)));
        this.#payloadReceived += take;
        offset += take;
        this.#position += take;
      }
      if (this.#payloadReceived === header.payloadLength) frames.push(this.#finishFrame(header));
    }
  }

  /** A header is complete: claim the descriptors it announces from those that have arrived. */
  #setHeader(header: FrameHeader): void {
    this.#header = header;
    const start = this.#frameStart;
    this.#rejectOrphans(start);
    if (header.fdCount === 0) return;
    // A read may begin with fd-less frames before the one its descriptors belong to, so a frame takes only
    // as many as it announces; descriptors left over are caught as orphans once their read is consumed.
    const lastHeaderByte = start + HEADER_SIZE - 1;
    while (
      this.#frameFds.length < header.fdCount &&
      this.#arrivals.length > 0 &&
      this.#arrivals[0]!.start <= lastHeaderByte
    ) {
      const arrival = this.#arrivals.shift()!;
      if (arrival.fd === TRUNCATED) {
        this.#frameTruncated = true;
        break;
      }
      this.#frameFds.push(arrival.fd);
    }
    if (this.#frameTruncated) {
      // The kernel delivered at most part of this frame's descriptors: close what did arrive with it.
      while (this.#arrivals.length > 0 && this.#arrivals[0]!.start <= lastHeaderByte) {
        const arrival = this.#arrivals.shift()!;
        if (arrival.fd !== TRUNCATED) this.#frameFds.push(arrival.fd);
      }
      for (const fd of this.#frameFds) this.#closeFd(fd);
      this.#frameFds = [];
      return;
    }
    if (this.#frameFds.length !== header.fdCount) {
      throw new PortunusError(
        'ERR_PORTUNUS_FD_COUNT_MISMATCH',
        `frame announces ${header.fdCount} descriptors but ${this.#frameFds.length} arrived`,
        {
          announced: header.fdCount,
          received: this.#frameFds.length,
        },
      );
    }
  }

  /** Descriptors whose read ended at or before `position` can belong to no frame still to come. */
  #rejectOrphans(position: number): void {
    const first = this.#arrivals[0];
    if (first === undefined || first.end > position) return;
    if (first.fd === TRUNCATED) {
      // A truncated read whose frame announced no descriptors: drop the marker, nothing was lost.
      this.#arrivals.shift();
      this.#rejectOrphans(position);
      return;
    }
    throw new PortunusError('ERR_PORTUNUS_FD_COUNT_MISMATCH', 'descriptors arrived that no frame announced');
  }

  #finishFrame(header: FrameHeader): DecodedFrame {
    const chunks = this.#payloadChunks;
    const payload = chunks.length === 0 ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const frame = { type: header.type, payload, fds: this.#frameFds, truncated: this.#frameTruncated };
    this.#resetFrame();
    return frame;
  }
}
