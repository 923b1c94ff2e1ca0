/**
 * The `node-ipc` backend: frames over Node's own child_process IPC channel, for a parent and the child it
 * forked. Node passes one handle (net.Socket, net.Server or dgram.Socket) per IPC message, duplicating it
 * with SCM_RIGHTS on Unix and WSADuplicateSocket on Windows, so this backend works wherever Node does, for
 * the kinds Node can send. A frame with n handles travels as n IPC messages (one handle each) that the
 * receiving side puts back together; a frame without handles is one message.
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { PortunusError } from '../errors.js';
import {
  releaseAttachment,
  type Attachment,
  type FrameLink,
  type LinkHandlers,
  type NodeHandle,
  type WriteCallback,
} from './link.js';

/** The IPC message portunus sends; other messages on the same IPC channel are left to the application. */
interface IpcFrameMessage {
  portunus: 1;
  /** Frame type. */
  t: number;
  /** Payload, base64. */
  p: string;
  /** Handles in the frame, and the index of the one riding on this message. */
  n: number;
  i: number;
}

/** Either end of a Node IPC channel: a forked ChildProcess, or `process` inside the child. */
export type IpcEndpoint = ChildProcess | NodeJS.Process;

function isFrameMessage(message: unknown): message is IpcFrameMessage {
  const m = message as Partial<IpcFrameMessage> | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    m.portunus === 1 &&
    typeof m.t === 'number' &&
    typeof m.p === 'string' &&
    typeof m.n === 'number' &&
    typeof m.i === 'number'
  );
}

export class NodeIpcLink implements FrameLink {
  readonly #endpoint: IpcEndpoint;
  readonly #handlers: LinkHandlers;
  readonly #maxPayload: number;
  #closed = false;
  #inFlight = 0;
  #flushWaiters: Array<() => void> = [];
  #partial: { type: number; payload: Buffer; handles: NodeHandle[]; count: number } | undefined;
  readonly #onMessage = (message: unknown, handle: unknown) => this.#receive(message, handle as NodeHandle | undefined);
  readonly #onDisconnect = () => this.#handlers.ended();

  constructor(endpoint: IpcEndpoint, handlers: LinkHandlers, maxPayload: number) {
    if (typeof endpoint.send !== 'function') {
      throw new PortunusError(
        'ERR_PORTUNUS_NO_CHANNEL',
        'this process has no IPC channel (spawn it with fork() or stdio "ipc")',
      );
    }
    this.#endpoint = endpoint;
    this.#handlers = handlers;
    this.#maxPayload = maxPayload;
    endpoint.on('message', this.#onMessage);
    endpoint.on('disconnect', this.#onDisconnect);
    // Node postpones 'disconnect' while a handle it sent awaits the peer's NODE_HANDLE_ACK: forever if the
    // peer died meanwhile, which would leave every handoff in flight pending. A ChildProcess still emits
    // 'close' once the process has exited and its IPC pipe reached EOF (after the last message).
    endpoint.on('close', this.#onDisconnect);
  }

  get attachmentKind(): 'node-handle' {
    return 'node-handle';
  }

  get queuedBytes(): number {
    return 0;
  }

  write(type: number, payload: Uint8Array, attachments: readonly Attachment[], done?: WriteCallback): void {
    if (this.#closed || !this.#endpoint.connected) {
      process.nextTick(() => done?.(new PortunusError('ERR_PORTUNUS_CHANNEL_CLOSED', 'channel is closed')));
      return;
    }
    if (attachments.some((attachment) => typeof attachment === 'number')) {
      process.nextTick(() =>
        done?.(
          new PortunusError(
            'ERR_PORTUNUS_UNSUPPORTED',
            'the node-ipc backend carries Node handles, not raw file descriptors',
          ),
        ),
      );
      return;
    }
    const encoded = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('base64');
    const handles = attachments as readonly NodeHandle[];
    const count = handles.length;
    let remaining = Math.max(count, 1);
    let failed = false;
    const sent = (error: Error | null) => {
      if (failed) return;
      if (error) {
        failed = true;
        this.#settle();
        done?.(error);
        return;
      }
      if (--remaining === 0) {
        this.#settle();
        done?.();
      }
    };
    this.#inFlight++;
    for (let i = 0; i < Math.max(count, 1); i++) {
      const message: IpcFrameMessage = { portunus: 1, t: type, p: i === 0 ? encoded : '', n: count, i };
      // keepOpen: the sender's copy stays its own until the transport layer's acknowledgement says otherwise.
      (this.#endpoint.send as (m: unknown, h: unknown, o: unknown, cb: (e: Error | null) => void) => boolean)(
        message,
        handles[i],
        { keepOpen: true },
        sent,
      );
    }
  }

  flushed(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  close(_error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#endpoint.off('message', this.#onMessage);
    this.#endpoint.off('disconnect', this.#onDisconnect);
    this.#endpoint.off('close', this.#onDisconnect);
    for (const handle of this.#partial?.handles ?? []) releaseAttachment(handle);
    this.#partial = undefined;
    // The IPC channel itself belongs to the process objects; the channel's peer learns of the close when
    // the IPC channel disconnects or the process exits.
    if ('disconnect' in this.#endpoint && this.#endpoint.connected) this.#endpoint.disconnect();
    for (const resolve of this.#flushWaiters.splice(0)) resolve();
  }

  ref(): void {
    (this.#endpoint.channel as { ref?: () => void } | undefined)?.ref?.();
  }

  unref(): void {
    (this.#endpoint.channel as { unref?: () => void } | undefined)?.unref?.();
  }

  peerCredentials(): undefined {
    return undefined;
  }

  #settle(): void {
    if (--this.#inFlight === 0) for (const resolve of this.#flushWaiters.splice(0)) resolve();
  }

  #receive(message: unknown, handle: NodeHandle | undefined): void {
    if (!isFrameMessage(message)) return;
    if (this.#closed) {
      if (handle !== undefined) releaseAttachment(handle);
      return;
    }
    if (message.i === 0) {
      if (this.#partial !== undefined)
        return this.#fail(handle, 'a new frame began before the previous one had all its handles');
      const payload = Buffer.from(message.p, 'base64');
      if (payload.length > this.#maxPayload)
        return this.#fail(handle, `frame payload of ${payload.length} bytes exceeds the limit of ${this.#maxPayload}`);
      this.#partial = { type: message.t, payload, handles: [], count: message.n };
    } else if (
      this.#partial === undefined ||
      message.i !== this.#partial.handles.length ||
      message.n !== this.#partial.count
    ) {
      return this.#fail(handle, 'handle message out of order');
    }
    const partial = this.#partial!;
    if (partial.count > 0) {
      if (handle === undefined) return this.#fail(undefined, 'a frame announced a handle that did not arrive');
      partial.handles.push(handle);
      if (partial.handles.length < partial.count) return;
    } else if (handle !== undefined) {
      return this.#fail(handle, 'a handle arrived that no frame announced');
    }
    this.#partial = undefined;
    this.#handlers.frames([{ type: partial.type, payload: partial.payload, fds: partial.handles, truncated: false }]);
  }

  #fail(handle: NodeHandle | undefined, reason: string): void {
    if (handle !== undefined) releaseAttachment(handle);
    this.#handlers.ended(new PortunusError('ERR_PORTUNUS_BAD_FRAME', reason));
  }
}
