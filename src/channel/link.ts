/**
 * A FrameLink carries whole frames for a Channel. The channel owns protocol state (handshake, frame types,
 * descriptor ownership); a link only moves frames. `EndpointLink` (./endpoint-link.ts) is the SCM_RIGHTS
 * implementation, on the binding's native endpoint; `NodeIpcLink` (./node-ipc-link.ts) the portable one, on
 * Node's own IPC channel.
 * @module
 */
import type dgram from 'node:dgram';
import type net from 'node:net';
import { fdBackend, type PeerCredentials } from '../binding/index.js';

/**
 * A Node object that carries a socket across Node's own IPC (the node-ipc backend, where raw descriptors do
 * not exist, as on Windows).
 */
export type NodeHandle = net.Socket | net.Server | dgram.Socket;

/** What travels beside a frame's payload: descriptors on the unix backend, Node handles on node-ipc. */
export type Attachment = number | NodeHandle;

/** A complete frame as a link delivers it. The receiver owns its attachments. */
export interface LinkFrame {
  type: number;
  payload: Buffer;
  fds: Attachment[];
  /** Some attachments were lost in transit (MSG_CTRUNC); those that arrived were closed already. */
  truncated: boolean;
}

/** Called once per frame write: without an argument when the kernel has the whole frame, else with why not. */
export type WriteCallback = (error?: Error) => void;

export interface LinkHandlers {
  /** Complete frames, in order. Their descriptors belong to the handler. */
  frames(frames: LinkFrame[]): void;
  /** The peer went away (no error) or the link failed. Called at most once. */
  ended(error?: Error): void;
  /** The write queue went below the high-water mark again. */
  drained(): void;
}

export interface FrameLink {
  /** Bytes queued but not yet handed to the kernel. */
  readonly queuedBytes: number;
  /** Which kind of attachment this link carries. */
  readonly attachmentKind: 'fd' | 'node-handle';
  /**
   * Queues a frame. The caller keeps its attachments and must keep them open until `done` runs. A link
   * given attachments of the other kind fails the write with ERR_PORTUNUS_UNSUPPORTED.
   */
  write(type: number, payload: Uint8Array, attachments: readonly Attachment[], done?: WriteCallback): void;
  /** Resolves once everything queued so far has been written, or the link has failed. */
  flushed(): Promise<void>;
  /** Closes the link at once; queued writes fail with `error`. Idempotent. */
  close(error: Error): void;
  ref(): void;
  unref(): void;
  /** Credentials of the peer process, where the link can know them. */
  peerCredentials(): PeerCredentials | undefined;
}

/** Closes a descriptor, or destroys a Node handle, that nobody owns any more. */
export function releaseAttachment(attachment: Attachment): void {
  if (typeof attachment === 'number') {
    fdBackend.close(attachment);
  } else if ('destroy' in attachment) {
    attachment.destroy();
  } else {
    attachment.close();
  }
}
