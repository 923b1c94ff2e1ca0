/**
 * `portunus/protocol`: the wire protocol's numbers, for code that speaks it without the channel classes (a
 * peer in another process model, a test, a packet dissector): the header's size and version, the frame types
 * of each layer, the descriptor limit and the environment variable that carries a worker's channel. The
 * format itself is specified in docs/protocol.md.
 * @module
 */
export { FrameType, MAX_FDS_PER_FRAME, PROTOCOL_VERSION, HEADER_SIZE } from './channel/index.js';
export { TransportFrame, type Envelope, type TransportKind } from './transport/index.js';
export { WorkerFrame } from './dispatch/index.js';
export { CHANNEL_FD_ENV } from './bootstrap/index.js';
