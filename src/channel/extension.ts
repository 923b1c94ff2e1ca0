/**
 * The contract between a channel and a layer built on it (transport, dispatch, the pool): the frame types
 * the layer owns on that channel, the channel events it delivers, and the port the channel hands back for
 * delivering them. `Channel.extend()` takes an extension; docs/architecture.md, "How a layer extends the
 * channel", shows one.
 * @module
 */
import type { PortunusError } from '../errors.js';
import type { ReceivedMessage } from './received-message.js';

/**
 * Handler for a frame type registered by a layer above the channel. The message's descriptors are closed
 * when it returns, unless it took them.
 */
export type FrameHandler = (message: ReceivedMessage, truncated: boolean) => void;

/**
 * @internal What a layer above declares when it extends a channel. `Event` names the channel events it
 * delivers: each is declared in `ChannelEvents` by the extending layer's own module (with
 * `declare module`), next to the code that delivers it, and no other extension of the channel may deliver it.
 */
export interface ChannelExtension<Event extends string> {
  /** Who extends the channel ('transport'), as errors name it. */
  readonly name: string;
  /** The frame types it owns on the channel (0x10 to 0xff, none taken yet), each with its handler. */
  readonly frames: { readonly [type: number]: FrameHandler };
  /** The channel events it delivers through its port. */
  readonly events?: readonly Event[];
}

/**
 * @internal What the channel gives back to an extension: the only way a layer above delivers events to
 * the channel's listeners. `Events` are the extension's own events, with their listener arguments (none
 * by default: such a port only warns).
 */
export interface ChannelExtensionPort<Events = Record<never, never>> {
  /** Delivers one of the extension's events to the channel's listeners. */
  emit<K extends keyof Events>(event: K, ...args: Events[K] extends unknown[] ? Events[K] : never): void;
  /** Reports a problem that does not end the channel, as the channel's `'warning'` event. */
  warn(error: PortunusError): void;
}
