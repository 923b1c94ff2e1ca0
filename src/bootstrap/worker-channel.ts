/**
 * How a worker finds the channel to its master: the descriptor number in PORTUNUS_CHANNEL_FD, put there by
 * the process that spawned it (WorkerPool does). The variable is removed once read so that programs the
 * worker spawns do not mistake the number for a channel of their own.
 * @module
 */
import { channelFromFd, resolveChannelOptions, type Channel, type ChannelOptions } from '../channel/index.js';
import { PortunusError } from '../errors.js';

/** Name of the environment variable carrying the inherited channel descriptor. */
export const CHANNEL_FD_ENV = 'PORTUNUS_CHANNEL_FD';

let inherited: Channel | undefined;

/**
 * The channel this process inherited from its master. Opened on first call and returned again after; the
 * channel owns the descriptor. Throws ERR_PORTUNUS_NO_CHANNEL when the process was not started with one.
 */
export function inheritedChannel(options?: ChannelOptions): Channel {
  // Checked before the variable is consumed: bad options must not cost the process its channel.
  resolveChannelOptions(options);
  if (inherited !== undefined && !inherited.isClosed) return inherited;
  const value = process.env[CHANNEL_FD_ENV];
  const fd = value === undefined ? NaN : Number(value);
  if (!Number.isInteger(fd) || fd < 0 || String(fd) !== value) {
    throw new PortunusError(
      'ERR_PORTUNUS_NO_CHANNEL',
      `no inherited channel: ${CHANNEL_FD_ENV} is ${value === undefined ? 'not set' : JSON.stringify(value)}`,
    );
  }
  delete process.env[CHANNEL_FD_ENV];
  inherited = channelFromFd(fd, options);
  return inherited;
}
