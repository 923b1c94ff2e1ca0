/**
 * ReceivedMessage: one frame as the application sees it, and the owner of the descriptors that came with
 * it until someone takes them. Whatever is not taken by the time the listeners return is closed, so a
 * received descriptor can never leak.
 * @module
 */
import { fdBackend } from '../binding/index.js';

export class ReceivedMessage {
  /** Frame type (2 for messages sent with `Channel.send`). */
  readonly type: number;
  /** The frame's payload bytes. */
  readonly payload: Buffer;
  #fds: Array<number | undefined>;
  #released = false;

  /** @internal */
  constructor(type: number, payload: Buffer, fds: number[]) {
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

  /** How many descriptors arrived with this message (taken or not). */
  get fdCount(): number {
    return this.#fds.length;
  }

  /**
   * Takes every descriptor not taken yet. The caller owns them from now on and must close them (or hand
   * them to something that will, such as `new net.Socket({ fd })`).
   */
  takeFds(): number[] {
    const taken: number[] = [];
    for (let i = 0; i < this.#fds.length; i++) {
      const fd = this.#fds[i];
      if (fd !== undefined) taken.push(fd);
      this.#fds[i] = undefined;
    }
    return taken;
  }

  /** Takes the descriptor at `index`; returns undefined if it was taken already or does not exist. */
  takeFd(index: number): number | undefined {
    const fd = this.#fds[index];
    this.#fds[index] = undefined;
    return fd;
  }

  /** Closes every descriptor nobody took. Called by the channel after the listeners ran; idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    for (const fd of this.takeFds()) fdBackend.close(fd);
  }
}
