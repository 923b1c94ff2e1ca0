// A raw peer for hostile and edge-case tests: an endpoint of the descriptor backend with no framing or checks
// of its own, so a test can put any bytes with any descriptors into one sendmsg and see exactly what the
// other side sent back (bytes, descriptors per read, truncation, end of stream). The backend is the one
// installed when the peer is made: the native addon's, or the fake of a unit test (./fd-backends.js). Also
// builds frame headers, well-formed or not.
import { constants } from 'node:os';
import { fdBackend } from '../../dist/binding/index.js';
import { nativeAddon } from '../../dist/binding/native.js';
import { channelFromFd } from '../../dist/index.js';

export const addon = nativeAddon();

/**
 * One frame: 16-byte header + payload. Every header field can be overridden, so that malformed frames are as
 * easy to write as good ones.
 */
export function frame(
  type,
  payload = Buffer.alloc(0),
  { fdCount = 0, flags = 0, version = 1, reserved = 0, magic = 'PN', length } = {},
) {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(16);
  header.write(magic, 0, 2, 'latin1');
  header[2] = version;
  header[3] = type;
  header.writeUInt16BE(flags, 4);
  header.writeUInt16BE(fdCount, 6);
  header.writeUInt32BE(length ?? body.length, 8);
  header.writeUInt32BE(reserved, 12);
  return Buffer.concat([header, body]);
}

/** A HELLO frame as a version-1 peer sends it. */
export function hello(pid = process.pid) {
  return frame(0x01, JSON.stringify({ protocol: 1, pid, capabilities: [] }));
}

/** Splits a byte stream into frames ({ type, fdCount, payload }); an incomplete tail is left out. */
export function parseFrames(bytes) {
  const frames = [];
  let offset = 0;
  while (bytes.length - offset >= 16) {
    const length = bytes.readUInt32BE(offset + 8);
    if (bytes.length - offset < 16 + length) break;
    frames.push({
      type: bytes[offset + 3],
      fdCount: bytes.readUInt16BE(offset + 6),
      payload: bytes.subarray(offset + 16, offset + 16 + length),
    });
    offset += 16 + length;
  }
  return frames;
}

/** Rejects after `ms` with a message naming what did not happen. */
export function within(promise, what, ms = 10_000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The native Endpoint on `fd` (owned from now on), recording everything that arrives. */
export class RawEndpoint {
  /** Every byte received, in order. */
  data = Buffer.alloc(0);
  /** One entry per read that carried control data: { offset, length, fds, truncated }. */
  reads = [];
  /** undefined while open, then 1 (end of stream) or a negative errno. */
  status = undefined;
  #backend;
  #endpoint;
  #waiters = new Set();
  #writable = [];
  #closed = false;
  #untaken = [];

  constructor(fd, { read = true } = {}) {
    this.#backend = fdBackend;
    this.#endpoint = fdBackend.createEndpoint(
      fd,
      (data, marks, status) => this.#onRead(data, marks, status),
      () => {
        const resolvers = this.#writable;
        this.#writable = [];
        for (const resolve of resolvers) resolve();
      },
    );
    if (read) this.#endpoint.readStart();
  }

  /** Starts reading (for an endpoint created with { read: false }). */
  readStart() {
    this.#endpoint.readStart();
  }

  /** True once close() was called. */
  get isClosed() {
    return this.#closed;
  }

  /** Frames received so far. */
  get frames() {
    return parseFrames(this.data);
  }

  /** One sendmsg: returns the native result (bytes written, or a negative errno). */
  writeOnce(bytes, fds = [], offset = 0, length = bytes.length - offset) {
    return this.#endpoint.write(bytes, offset, length, fds.length > 0 ? Int32Array.from(fds) : undefined);
  }

  /**
   * Writes all of `bytes`, descriptors on the first sendmsg, waiting for writability on EAGAIN; rejects with
   * the errno of any other failure.
   */
  async write(bytes, fds = []) {
    let offset = 0;
    let pending = fds;
    while (offset < bytes.length) {
      const written = this.writeOnce(bytes, pending, offset);
      if (written === -constants.errno.EAGAIN) {
        await new Promise((resolve) => {
          this.#writable.push(resolve);
          this.#endpoint.awaitWritable();
        });
        continue;
      }
      if (written < 0) throw Object.assign(new Error(`sendmsg failed: errno ${-written}`), { errno: written });
      offset += written;
      pending = [];
    }
  }

  /** Resolves once `predicate(this)` holds (checked now and after every read). */
  until(predicate, what, ms = 10_000) {
    if (predicate(this)) return Promise.resolve(this);
    let check;
    const reached = new Promise((resolve) => {
      check = () => {
        if (!predicate(this)) return;
        this.#waiters.delete(check);
        resolve(this);
      };
      this.#waiters.add(check);
    });
    return within(reached, what, ms).finally(() => this.#waiters.delete(check));
  }

  /** Resolves once a frame of `type` has arrived; returns it. */
  async frameOfType(type, ms) {
    await this.until((raw) => raw.frames.some((f) => f.type === type), `a frame of type 0x${type.toString(16)}`, ms);
    return this.frames.find((f) => f.type === type);
  }

  /** Received descriptors nobody took yet; the caller owns them. */
  takeFds() {
    const fds = this.#untaken;
    this.#untaken = [];
    return fds;
  }

  /** Closes the endpoint and every received descriptor nobody took. Idempotent. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#endpoint.close();
    for (const fd of this.takeFds()) this.#backend.close(fd);
  }

  #onRead(data, marks, status) {
    const base = this.data.length;
    if (data !== undefined) this.data = Buffer.concat([this.data, data]);
    if (marks !== undefined) {
      for (let i = 0; i < marks.length;) {
        const count = marks[i + 2];
        const fds = Array.from(marks.subarray(i + 4, i + 4 + count));
        this.reads.push({ offset: base + marks[i], length: marks[i + 1], fds, truncated: marks[i + 3] === 1 });
        if (this.#closed) for (const fd of fds) this.#backend.close(fd);
        else this.#untaken.push(...fds);
        i += 4 + count;
      }
    }
    if (status !== 0) {
      this.status = status;
      // The endpoint stops watching after an end or an error: a write waiting for writability retries now
      // and gets the error (EPIPE) instead of waiting forever.
      const resolvers = this.#writable;
      this.#writable = [];
      for (const resolve of resolvers) resolve();
    }
    for (const check of [...this.#waiters]) check();
  }
}

/**
 * A Channel on one end of a socketpair and a RawEndpoint on the other. The raw side sends its HELLO first
 * unless told not to.
 */
export async function channelWithRawPeer({ sendHello = true, options } = {}) {
  const [mine, theirs] = fdBackend.socketPair('stream');
  const channel = channelFromFd(mine, options);
  const raw = new RawEndpoint(theirs);
  if (sendHello) await raw.write(hello());
  return { channel, raw };
}

/**
 * A descriptor to send and a way to see what became of it: bytes written into any copy of `fd` arrive at
 * `reader`, and `reader.status` becomes 1 (end of stream) only once every copy of `fd` is closed. The caller
 * closes `fd` (its own copy) and `reader`.
 */
export function probe() {
  const [kept, fd] = fdBackend.socketPair('stream');
  return { fd, reader: new RawEndpoint(kept) };
}
