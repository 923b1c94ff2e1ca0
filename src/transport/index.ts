/**
 * The transport layer's door: its public API and the one internal entry the dispatcher needs
 * (distributeAcceptedFd), plus releaseAdopted for adoptConnections() and adoptHeldDescriptor for listenFds().
 * The other layers, and src/index.ts, import src/transport through this file only.
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
export type { AdoptedFd } from './kinds/raw-fd.js';
export type { AdoptedServer } from './kinds/server.js';
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
