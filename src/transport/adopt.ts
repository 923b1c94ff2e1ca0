/**
 * adoptTransport(): take the next socket the peer hands over on a channel. The event form is
 * `channel.on('transport', adopted => …)`.
 * @module
 */
import { Channel } from '../channel/index.js';
import { validateInstance } from '../validate.js';
import type { Adopted } from './kinds/table.js';
import { sessionOf } from './session.js';

/**
 * Resolves with the next transport the peer of `channel` hands over, already rebuilt as a Node object
 * (`adopted.socket`, `.server`, `.dgram`, or `.fd` for raw descriptors) and acknowledged. The caller owns
 * it. Bytes the sender had read are already back in front of the stream. Rejects with
 * ERR_PORTUNUS_CHANNEL_CLOSED if the channel closes first.
 */
export function adoptTransport(channel: Channel): Promise<Adopted> {
  validateInstance(channel, 'channel', Channel, 'a Channel');
  return sessionOf(channel).nextAdopted();
}
