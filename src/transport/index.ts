/**
 * The transport layer's door: its public API and the internal entries the layers above need
 * (distributeAcceptedFd and distributeListenerFd for the dispatcher, releaseAdopted for adoptConnections(),
 * closeServerKeepingName for takeover, adoptHeldDescriptor for listenFds()). The other layers, and
 * src/index.ts, import src/transport through this file only.
 *
 * Importing it extends every channel created from then on with a transport session (see the end of this
 * file).
 * @module
 */
import { extendEveryChannel } from '../channel/index.js';
import { sessionOf } from './session.js';

export { adoptTransport } from './adopt.js';
export {
  distributeAcceptedFd,
  distributeListenerFd,
  distributeTransport,
  type DistributeOptions,
} from './distribute.js';
export type { Envelope, TransportKind } from './envelope.js';
export { TransportFrame } from './frame-types.js';
export type { AdoptedDgram } from './kinds/dgram.js';
export type { SocketFields } from './kinds/fields.js';
export type { NodeUnixSeqpacketSocket } from './kinds/node-unix-socket.js';
export type { AdoptedFd } from './kinds/raw-fd.js';
export { closeServerKeepingName, type AdoptedServer } from './kinds/server.js';
export type { AdoptedSeqpacket } from './kinds/seqpacket.js';
export type { AdoptedSocket } from './kinds/socket.js';
export {
  adoptHeldDescriptor,
  releaseAdopted,
  type Adopted,
  type HeldTransport,
  type Transport,
} from './kinds/table.js';
export type { Handoff } from './session.js';

// Every portunus channel answers TRANSPORT frames (docs/protocol.md §8.1), also one on which no transport
// function was called yet: a peer may hand a socket over at any time, and a transport nobody adopts must
// be refused so that the sender keeps it.
extendEveryChannel(sessionOf);
