/**
 * Frame types of the transport layer (docs/protocol.md): one socket or several per TRANSPORT frame, and
 * the receiver's answers.
 * @module
 */
/** Frame types of the transport layer: TRANSPORT carries sockets, ACK and NACK answer it. */
export const TransportFrame = {
  /** Envelopes + pre-read bytes; one attached descriptor per envelope. */
  TRANSPORT: 0x10,
  /** u32 ids the receiver adopted: the sender may now close its copies. */
  ACK: 0x11,
  /** JSON refusals: the sender still owns those sockets. */
  NACK: 0x12,
} as const;
