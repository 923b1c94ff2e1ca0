/**
 * The transport row of a connected AF_UNIX SOCK_SEQPACKET socket (kind 'unix-seqpacket'), a socket Node's
 * core has no object for. It is sent as a raw descriptor (`{ fd }`, ./raw-fd.ts, which tells the kernel's
 * seqpacket sockets apart) and adopted as node-unix-socket's `SeqpacketSocket` where that optional package
 * is installed (./node-unix-socket.ts), or as the raw descriptor (kind 'fd') where it is not.
 * node-unix-socket's own SeqpacketSocket cannot be sent: version 0.2 does not expose its descriptor.
 * @module
 */
import { EventEmitter } from 'node:events';
import { PortunusError } from '../../errors.js';
import type { SocketFields } from './fields.js';
import { nodeUnixSocket, type NodeUnixSeqpacketSocket } from './node-unix-socket.js';
import type { AdoptedFd } from './raw-fd.js';
import type { Adoption, TransportRow } from './row.js';

/**
 * A connected seqpacket socket adopted from another process, where node-unix-socket is installed (without
 * it the same socket arrives as an {@link AdoptedFd}). The adopter owns `seqpacket`, which closes `fd` when
 * it is destroyed.
 */
export interface AdoptedSeqpacket extends Adoption, SocketFields {
  /** A connected AF_UNIX SOCK_SEQPACKET socket. */
  kind: 'unix-seqpacket';
  /** node-unix-socket's SeqpacketSocket on the descriptor, reading from the next message on. */
  seqpacket: NodeUnixSeqpacketSocket;
  /**
   * The descriptor under `seqpacket` (close-on-exec), which the package does not expose: for inspection
   * (`describeFd()`), not to close or to hand on while `seqpacket` is open.
   */
  fd: number;
}

const KINDS = {
  'unix-seqpacket': { descriptor: { kind: 'unix-seqpacket', listening: false }, nodeIpcClass: undefined },
} as const;

/** True for node-unix-socket's SeqpacketSocket, recognised without loading the package. */
function isSeqpacketSocket(transport: unknown): transport is NodeUnixSeqpacketSocket {
  return transport instanceof EventEmitter && transport.constructor.name === 'SeqpacketSocket';
}

export const seqpacketRow: TransportRow<NodeUnixSeqpacketSocket, AdoptedSeqpacket, AdoptedFd> = {
  object: "node-unix-socket's SeqpacketSocket",
  neverSent: true,
  kinds: KINDS,
  is: isSeqpacketSocket,
  prepare() {
    throw new PortunusError(
      'ERR_PORTUNUS_UNSUPPORTED',
      "node-unix-socket's SeqpacketSocket does not expose its descriptor, so it cannot be handed off: " +
        'hand over the seqpacket descriptor itself as { fd }',
    );
  },
  adopt(attachment) {
    const fd = attachment as number;
    const module = nodeUnixSocket();
    if (module === undefined) return { kind: 'fd', fd };
    // The descriptor arrived close-on-exec and the package keeps a given descriptor's flags (0.2.7 does; the
    // sockets it opens itself are not close-on-exec). test/integration/transport/seqpacket.test.js checks it.
    return { kind: 'unix-seqpacket', seqpacket: new module.SeqpacketSocket(fd), fd };
  },
  release: (adopted) => adopted.seqpacket.destroy(),
};
