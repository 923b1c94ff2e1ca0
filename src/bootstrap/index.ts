/**
 * The bootstrap layer's door: how a worker finds the channel its master gave it. The other layers import
 * src/bootstrap through this file only.
 * @module
 */
export { CHANNEL_FD_ENV, inheritedChannel } from './worker-channel.js';
