/**
 * A FrameLink carries whole frames for a Channel. The channel owns protocol state (handshake, frame types,
 * descriptor ownership); a link only moves frames. `EndpointLink` (./endpoint-link.ts) is the SCM_RIGHTS
 * implementation.
 * @module
 */
import type { PeerCredentials } from '../binding/index.js';
import type { DecodedFrame } from './frame-decoder.js';

/** Called once per frame write: without an argument when the kernel has the whole frame, else with why not. */
export type WriteCallback = (error?: Error) => void;

export interface LinkHandlers {
  /** Complete frames, in order. Their descriptors belong to the handler. */
  frames(frames: DecodedFrame[]): void;
  /** The peer went away (no error) or the link failed. Called at most once. */
  ended(error?: Error): void;
  /** The write queue went below the high-water mark again. */
  drained(): void;
}

export interface FrameLink {
  /** Bytes queued but not yet handed to the kernel. */
  readonly queuedBytes: number;
  /** Queues a frame. The caller keeps its descriptors and must keep them open until `done` runs. */
  write(type: number, payload: Uint8Array, fds: readonly number[], done?: WriteCallback): void;
  /** Resolves once everything queued so far has been written, or the link has failed. */
  flushed(): Promise<void>;
  /** Closes the link at once; queued writes fail with `error`. Idempotent. */
  close(error: Error): void;
  ref(): void;
  unref(): void;
  /** Credentials of the peer process, where the link can know them. */
  peerCredentials(): PeerCredentials | undefined;
}
