/**
 * Frames of the takeover layer (docs/protocol.md §8.4) and their payloads: a successor asks (TAKE), the
 * running process names what it hands over (OFFER) before the listeners themselves travel as TRANSPORT
 * frames, the successor says it serves them (READY), and the running process answers that it has stopped
 * accepting (RELEASED), or refuses or aborts the takeover (REFUSED).
 * @module
 */
import { PortunusError, type PortunusErrorCode } from '../errors.js';

/** Frame types of the takeover layer. */
export const TakeoverFrame = {
  /** Successor → running process: hand me your listeners. Empty payload. */
  TAKE: 0x40,
  /** Running process → successor: JSON `{ pid, listeners: [{ name, kind }] }`; the TRANSPORT frames follow. */
  OFFER: 0x41,
  /** Successor → running process: every listener is adopted and served here. Empty payload. */
  READY: 0x42,
  /** Running process → successor: it stopped accepting on every listener. Empty payload. */
  RELEASED: 0x43,
  /** Running process → successor: JSON `{ code, message }`; this takeover will not happen (or is aborted). */
  REFUSED: 0x44,
} as const;

/** The kinds of listener a takeover hands over, as the OFFER names them. */
export type TakeoverListenerKind = 'tcp-server' | 'unix-server' | 'udp';

/** One listener of an OFFER. */
export interface OfferedListener {
  /** The name the running process registered it under. */
  name: string;
  /** What the successor will get for it. */
  kind: TakeoverListenerKind;
}

/** What the running process offers. */
export interface Offer {
  /** Process id of the running process (informational). */
  pid: number;
  listeners: OfferedListener[];
}

/** Why a takeover was refused or aborted. */
export interface Refusal {
  code: PortunusErrorCode;
  message: string;
}

const KINDS: readonly string[] = ['tcp-server', 'unix-server', 'udp'];

export function encodeOffer(offer: Offer): Buffer {
  return Buffer.from(JSON.stringify(offer));
}

/** Decodes an OFFER payload; throws ERR_PORTUNUS_TAKEOVER_FAILED for anything but a well-formed one. */
export function decodeOffer(payload: Buffer): Offer {
  const value = parseJson(payload, 'OFFER') as Partial<Offer> | undefined;
  const listeners = value?.listeners;
  if (typeof value?.pid !== 'number' || !Array.isArray(listeners)) throw malformed('OFFER', 'pid or listeners missing');
  const names = new Set<string>();
  for (const listener of listeners as unknown[]) {
    const { name, kind } = (listener ?? {}) as Partial<OfferedListener>;
    if (typeof name !== 'string' || typeof kind !== 'string' || !KINDS.includes(kind))
      throw malformed('OFFER', `bad listener ${JSON.stringify(listener)}`);
    if (names.has(name)) throw malformed('OFFER', `listener '${name}' offered twice`);
    names.add(name);
  }
  return { pid: value.pid, listeners: listeners as OfferedListener[] };
}

export function encodeRefusal(refusal: Refusal): Buffer {
  return Buffer.from(JSON.stringify(refusal));
}

/** Decodes a REFUSED payload into the error it reports; a malformed one still ends the takeover. */
export function refusalError(payload: Buffer): PortunusError {
  let value: Partial<Refusal> | undefined;
  try {
    value = parseJson(payload, 'REFUSED') as Partial<Refusal>;
  } catch (error) {
    return error as PortunusError;
  }
  const code = typeof value?.code === 'string' && value.code.startsWith('ERR_PORTUNUS_TAKEOVER_') ? value.code : '';
  return new PortunusError(
    (code || 'ERR_PORTUNUS_TAKEOVER_FAILED') as PortunusErrorCode,
    `the running process refused the takeover: ${typeof value?.message === 'string' ? value.message : 'no reason given'}`,
    { remote: true },
  );
}

function parseJson(payload: Buffer, frame: string): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch (cause) {
    throw malformed(frame, 'not JSON', cause);
  }
}

function malformed(frame: string, detail: string, cause?: unknown): PortunusError {
  return new PortunusError(
    'ERR_PORTUNUS_TAKEOVER_FAILED',
    `malformed ${frame} frame from the running process: ${detail}`,
    {
      cause,
    },
  );
}
