/**
 * ReceivedMessage: one frame as the application sees it, and the owner of the descriptors that came with
 * it until someone takes them. Whatever is not taken by the time the listeners return is closed, so a
 * received descriptor can never leak.
 * @module
 */
import { releaseAttachment, type Attachment } from './link.js';

/**
 * A message as the receiver sees it: type, payload, and the descriptors that came with it. Take the
 * descriptors synchronously in the listener (`takeFds()`, `takeFd()`): those left are closed when it returns.
 */
export class ReceivedMessage {
  /** Frame type (2 for messages sent with `Channel.send`). */
  readonly type: number;
  /** The frame's payload bytes. */
  readonly payload: Buffer;
  #fds: Array<Attachment | undefined>;
  #released = false;

  /** @internal */
  constructor(type: number, payload: Buffer, fds: Attachment[]) {
    this.type = type;
    this.payload = payload;
    this.#fds = fds;
  }

  /** The payload decoded as UTF-8. */
  text(): string {
    return this.payload.toString('utf8');
  }

  /** The payload parsed as JSON. */
  json<T = unknown>(): T {
    return JSON.parse(this.payload.toString('utf8')) as T;
  }

  /** How many descriptors (or, on the node-ipc backend, Node handles) arrived with this message. */
  get fdCount(): number {
    return this.#fds.length;
  }

  /**
   * Takes every descriptor not taken yet. The caller owns them from now on and must close them (or hand
   * them to something that will, such as `new net.Socket({ fd })`). Node handles (node-ipc backend) are
   * not descriptors and stay in the message: see `takeAttachment()`.
   */
  takeFds(): number[] {
    const taken: number[] = [];
    for (let i = 0; i < this.#fds.length; i++) {
      const fd = this.#fds[i];
      if (typeof fd !== 'number') continue;
      taken.push(fd);
      this.#fds[i] = undefined;
    }
    return taken;
  }

  /** Takes the descriptor at `index`; returns undefined if it was taken already or is not a descriptor. */
  takeFd(index: number): number | undefined {
    const fd = this.#fds[index];
    if (typeof fd !== 'number') return undefined;
    this.#fds[index] = undefined;
    return fd;
  }

  /**
   * @internal Takes the attachment at `index`, whatever its kind (descriptor or Node handle), for the
   * layers above the channel.
   */
  takeAttachment(index: number): Attachment | undefined {
    const attachment = this.#fds[index];
    this.#fds[index] = undefined;
    return attachment;
  }

  /** Closes every descriptor (and destroys every Node handle) nobody took. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    for (let i = 0; i < this.#fds.length; i++) {
      const attachment = this.#fds[i];
      this.#fds[i] = undefined;
      if (attachment !== undefined) releaseAttachment(attachment);
    }
  }
}
