/**
 * The transport envelope: what travels with each handed-off socket, and its encoding as the payload of a
 * TRANSPORT frame (docs/protocol.md, "Transport frames"):
 *
 *   u32 (big-endian) length L of the JSON document
 *   L bytes of UTF-8 JSON: { "items": [Envelope, …] }   one item per attached descriptor, in order
 *   the pre-read bytes of every item, concatenated in item order (item.preRead bytes each)
 *
 * ACK payloads are a list of u32 ids; NACK payloads are UTF-8 JSON { "items": [{ id, code, message }] }.
 * @module
 */
import { PortunusError } from '../errors.js';

/** Transport kinds: what the descriptor is, and what Node object it becomes on the adopting side. */
export type TransportKind = 'tcp' | 'tcp-server' | 'unix' | 'unix-server' | 'udp' | 'unix-seqpacket' | 'fd';

export const TRANSPORT_KINDS: readonly TransportKind[] = [
  'tcp',
  'tcp-server',
  'unix',
  'unix-server',
  'udp',
  'unix-seqpacket',
  'fd',
];

/** Description of one handed-off socket. Addresses are as the sender's kernel reports them. */
export interface Envelope {
  /** Sender-chosen id (u32), unique among the sender's handoffs in flight on this channel. */
  id: number;
  /** What the descriptor is, and so what Node object the adopter builds on it. */
  kind: TransportKind;
  /** Address family of the socket. */
  family?: 'IPv4' | 'IPv6' | 'unix';
  /** Local IP address (getsockname). */
  localAddress?: string;
  /** Local port. */
  localPort?: number;
  /** Peer IP address (getpeername), for connected sockets. */
  remoteAddress?: string;
  /** Peer port, for connected sockets. */
  remotePort?: number;
  /** Local path, for Unix sockets bound to one. */
  localPath?: string;
  /** Peer path, for Unix sockets connected to a bound one. */
  remotePath?: string;
  /** Number of pre-read bytes for this item in the frame's byte section. */
  preRead: number;
  /** Application data, JSON. */
  metadata?: unknown;
}

/** A refusal, as carried by a NACK frame. */
export interface Refusal {
  id: number;
  code: string;
  message: string;
}

/** Encodes items (and their pre-read bytes) as a TRANSPORT payload. */
export function encodeTransportPayload(items: readonly Envelope[], preReads: readonly (Buffer | undefined)[]): Buffer {
  // The JSON is written straight into the payload: no intermediate Buffer to allocate and copy per frame.
  const json = JSON.stringify({ items });
  const jsonLength = Buffer.byteLength(json);
  let bytes = 0;
  for (const preRead of preReads) bytes += preRead?.length ?? 0;
  const payload = Buffer.allocUnsafe(4 + jsonLength + bytes);
  payload.writeUInt32BE(jsonLength, 0);
  payload.write(json, 4, jsonLength, 'utf8');
  let offset = 4 + jsonLength;
  for (const preRead of preReads) {
    if (preRead === undefined) continue;
    preRead.copy(payload, offset);
    offset += preRead.length;
  }
  return payload;
}

/** A decoded TRANSPORT payload: envelopes and the pre-read bytes of each. */
export interface TransportBatch {
  items: Envelope[];
  preReads: Buffer[];
}

const OPTIONAL_STRINGS = ['localAddress', 'remoteAddress', 'localPath', 'remotePath'] as const;
const OPTIONAL_PORTS = ['localPort', 'remotePort'] as const;

function badEnvelope(message: string): PortunusError {
  return new PortunusError('ERR_PORTUNUS_BAD_ENVELOPE', message);
}

/** Decodes and validates a TRANSPORT payload; throws ERR_PORTUNUS_BAD_ENVELOPE. */
export function decodeTransportPayload(payload: Buffer): TransportBatch {
  if (payload.length < 4) throw badEnvelope('transport payload shorter than its length field');
  const jsonLength = payload.readUInt32BE(0);
  if (4 + jsonLength > payload.length) throw badEnvelope('transport JSON runs past the payload');
  let document: unknown;
  try {
    document = JSON.parse(payload.toString('utf8', 4, 4 + jsonLength));
  } catch (cause) {
    throw new PortunusError('ERR_PORTUNUS_BAD_ENVELOPE', 'transport JSON does not parse', { cause });
  }
  const items = (document as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) throw badEnvelope('transport JSON has no items array');
  const preReads: Buffer[] = [];
  let offset = 4 + jsonLength;
  for (const item of items) {
    validateEnvelope(item);
    const end = offset + item.preRead;
    if (end > payload.length) throw badEnvelope(`pre-read bytes of item ${item.id} run past the payload`);
    preReads.push(payload.subarray(offset, end));
    offset = end;
  }
  if (offset !== payload.length)
    throw badEnvelope(`${payload.length - offset} bytes after the last item's pre-read bytes`);
  return { items: items as Envelope[], preReads };
}

/** The ids of a payload that may not be fully valid, so that its items can still be refused one by one. */
export function salvageIds(payload: Buffer): number[] {
  try {
    const jsonLength = payload.readUInt32BE(0);
    const items =
      (JSON.parse(payload.toString('utf8', 4, 4 + jsonLength)) as { items?: Array<{ id?: unknown }> }).items ?? [];
    return items.map((item) => item.id).filter((id): id is number => isId(id));
  } catch {
    return [];
  }
}

function isId(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0xffffffff;
}

function validateEnvelope(item: unknown): asserts item is Envelope {
  const envelope = item as Record<string, unknown> | null;
  if (typeof envelope !== 'object' || envelope === null) throw badEnvelope('transport item is not an object');
  if (!isId(envelope.id)) throw badEnvelope('transport item has no valid id');
  if (!TRANSPORT_KINDS.includes(envelope.kind as TransportKind))
    throw badEnvelope(`unknown transport kind ${JSON.stringify(envelope.kind)}`);
  if (!Number.isInteger(envelope.preRead) || (envelope.preRead as number) < 0)
    throw badEnvelope('transport item has no valid preRead count');
  if (envelope.family !== undefined && !['IPv4', 'IPv6', 'unix'].includes(envelope.family as string))
    throw badEnvelope('transport item has an unknown family');
  // Most envelopes (the dispatcher's connections) have none of the optional fields: skip the loops, which
  // read by computed key (a megamorphic lookup each) and would run for every handed-off connection.
  if (!hasOptionalFields(envelope)) return;
  for (const key of OPTIONAL_STRINGS) {
    if (envelope[key] !== undefined && typeof envelope[key] !== 'string')
      throw badEnvelope(`transport item field ${key} is not a string`);
  }
  for (const key of OPTIONAL_PORTS) {
    const port = envelope[key];
    if (port !== undefined && (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535))
      throw badEnvelope(`transport item field ${key} is not a port`);
  }
}

function hasOptionalFields(envelope: Record<string, unknown>): boolean {
  return (
    envelope.localAddress !== undefined ||
    envelope.remoteAddress !== undefined ||
    envelope.localPath !== undefined ||
    envelope.remotePath !== undefined ||
    envelope.localPort !== undefined ||
    envelope.remotePort !== undefined
  );
}

/** ACK payload: the adopted ids as u32 big-endian. */
export function encodeAck(ids: readonly number[]): Buffer {
  const payload = Buffer.allocUnsafe(ids.length * 4);
  for (let i = 0; i < ids.length; i++) payload.writeUInt32BE(ids[i]!, i * 4);
  return payload;
}

export function decodeAck(payload: Buffer): number[] {
  if (payload.length % 4 !== 0) throw badEnvelope('ACK payload is not a whole number of ids');
  const ids: number[] = [];
  for (let offset = 0; offset < payload.length; offset += 4) ids.push(payload.readUInt32BE(offset));
  return ids;
}

export function encodeNack(refusals: readonly Refusal[]): Buffer {
  return Buffer.from(JSON.stringify({ items: refusals }));
}

export function decodeNack(payload: Buffer): Refusal[] {
  let items: unknown;
  try {
    items = (JSON.parse(payload.toString('utf8')) as { items?: unknown }).items;
  } catch (cause) {
    throw new PortunusError('ERR_PORTUNUS_BAD_ENVELOPE', 'NACK JSON does not parse', { cause });
  }
  if (!Array.isArray(items)) throw badEnvelope('NACK JSON has no items array');
  return items
    .filter((item): item is Refusal => typeof item === 'object' && item !== null && isId((item as Refusal).id))
    .map((item) => ({
      id: item.id,
      code: String(item.code ?? 'ERR_PORTUNUS_HANDOFF_REFUSED'),
      message: String(item.message ?? 'refused'),
    }));
}
