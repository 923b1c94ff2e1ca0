/**
 * The frame header of the portunus wire protocol (docs/protocol.md, "Frame header"): 16 bytes, big-endian.
 *
 *   offset 0  u8[2] magic 'P' 'N'
 *   offset 2  u8    protocol version (1)
 *   offset 3  u8    frame type
 *   offset 4  u16   flags (none defined in version 1: any bit set is rejected)
 *   offset 6  u16   number of descriptors carried by the frame
 *   offset 8  u32   payload length in bytes
 *   offset 12 u32   reserved, zero
 * @module
 */
import { PortunusError } from '../errors.js';

/** Size of the frame header in bytes. */
export const HEADER_SIZE = 16;
export const MAGIC_0 = 0x50; // 'P'
export const MAGIC_1 = 0x4e; // 'N'
/** Version of the wire protocol this build speaks (header byte 2, and `protocol` in HELLO). */
export const PROTOCOL_VERSION = 1;
/** Flags this version understands; everything else is rejected. */
export const KNOWN_FLAGS = 0;
/**
 * Most descriptors one frame may carry. A frame with more than one sendmsg can take is split so that each
 * chunk of descriptors rides on at least one byte of the frame's header, hence the bound.
 */
export const MAX_FDS_PER_FRAME = 1024;
/** Default bound on a payload; a peer announcing more is cut off before anything is buffered. */
export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;

/** Frame types. 0x01–0x0f belong to the channel; 0x10–0xff to the layers above (transport, dispatch…). */
export const FrameType = {
  /** First frame in each direction: JSON { protocol, pid, capabilities }. */
  HELLO: 0x01,
  /** An application message (`Channel.send()`), with 0..1024 descriptors. */
  DATA: 0x02,
  /** Liveness probe: a u32 id the peer echoes in a PONG. */
  PING: 0x03,
  /** Answer to a PING, with the same u32 id. */
  PONG: 0x04,
  /** A frame was refused: JSON { code, message, frameType }. The channel stays open. */
  ERROR: 0x05,
} as const;

/** First frame type available to layers above the channel. */
export const FIRST_APPLICATION_TYPE = 0x10;

export interface FrameHeader {
  type: number;
  flags: number;
  fdCount: number;
  payloadLength: number;
}

/** Encodes header and payload into one buffer, ready for one write. */
export function encodeFrame(type: number, payload: Uint8Array, fdCount: number): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  frame[0] = MAGIC_0;
  frame[1] = MAGIC_1;
  frame[2] = PROTOCOL_VERSION;
  frame[3] = type;
  frame.writeUInt16BE(0, 4);
  frame.writeUInt16BE(fdCount, 6);
  frame.writeUInt32BE(payload.length, 8);
  frame.writeUInt32BE(0, 12);
  frame.set(payload, HEADER_SIZE);
  return frame;
}

/** Parses and validates a header; throws ERR_PORTUNUS_BAD_FRAME and friends on anything malformed. */
export function decodeHeader(bytes: Buffer, offset: number, maxPayload: number): FrameHeader {
  if (bytes[offset] !== MAGIC_0 || bytes[offset + 1] !== MAGIC_1) {
    throw new PortunusError(
      'ERR_PORTUNUS_BAD_FRAME',
      `bad frame magic 0x${bytes.readUInt16BE(offset).toString(16).padStart(4, '0')}`,
    );
  }
  const version = bytes[offset + 2]!;
  if (version !== PROTOCOL_VERSION) {
    throw new PortunusError(
      'ERR_PORTUNUS_VERSION_MISMATCH',
      `peer speaks protocol version ${version}, this side speaks ${PROTOCOL_VERSION}`,
      { version },
    );
  }
  const flags = bytes.readUInt16BE(offset + 4);
  if ((flags & ~KNOWN_FLAGS) !== 0) {
    throw new PortunusError('ERR_PORTUNUS_BAD_FRAME', `unknown frame flags 0x${flags.toString(16)}`, { flags });
  }
  if (bytes.readUInt32BE(offset + 12) !== 0) {
    throw new PortunusError('ERR_PORTUNUS_BAD_FRAME', 'reserved header bytes are not zero');
  }
  const fdCount = bytes.readUInt16BE(offset + 6);
  if (fdCount > MAX_FDS_PER_FRAME) {
    throw new PortunusError(
      'ERR_PORTUNUS_TOO_MANY_FDS',
      `frame announces ${fdCount} descriptors, at most ${MAX_FDS_PER_FRAME} are allowed`,
      { fdCount },
    );
  }
  const payloadLength = bytes.readUInt32BE(offset + 8);
  if (payloadLength > maxPayload) {
    throw new PortunusError(
      'ERR_PORTUNUS_FRAME_TOO_LARGE',
      `frame payload of ${payloadLength} bytes exceeds the limit of ${maxPayload}`,
      { payloadLength },
    );
  }
  return { type: bytes[offset + 3]!, flags, fdCount, payloadLength };
}
