/**
 * The frames a registrant and a service registry exchange on a registration channel (docs/protocol.md §8.3):
 * the registrant asks for one name, the registry answers once, and from then on the channel carries the
 * registry's TRANSPORT frames (connections for that name) and their ACK/NACK answers.
 * @module
 */
import { PortunusError } from '../errors.js';

/** Frame types of a registration channel. */
export const MuxFrame = {
  /** registrant -> registry. JSON { name }: serve connections for this service name. */
  REGISTER: 0x30,
  /** registry -> registrant. JSON { name }: registered (under the name as normalised). */
  REGISTERED: 0x31,
  /** registry -> registrant. JSON { code, message }: refused; the registry closes the channel next. */
  REFUSED: 0x32,
} as const;

/** Largest JSON payload either side accepts in these frames: a name and a sentence, never more. */
const MAX_PAYLOAD = 4096;

/** Encodes a frame's JSON payload. */
export function encodeMuxPayload(value: Record<string, string>): string {
  return JSON.stringify(value);
}

/**
 * Decodes a frame's JSON payload and returns the string members asked for; anything else (oversized, not
 * JSON, a member missing or not a string) is ERR_PORTUNUS_BAD_FRAME.
 */
export function decodeMuxPayload<K extends string>(payload: Buffer, keys: readonly K[]): Record<K, string> {
  let value: unknown;
  try {
    if (payload.length > MAX_PAYLOAD) throw new Error(`payload of ${payload.length} bytes`);
    value = JSON.parse(payload.toString('utf8'));
  } catch (cause) {
    throw new PortunusError('ERR_PORTUNUS_BAD_FRAME', 'registration frame is not a small JSON object', { cause });
  }
  const result = {} as Record<K, string>;
  for (const key of keys) {
    const member = (value as Record<string, unknown> | null)?.[key];
    if (typeof member !== 'string')
      throw new PortunusError('ERR_PORTUNUS_BAD_FRAME', `registration frame has no string member "${key}"`);
    result[key] = member;
  }
  return result;
}
