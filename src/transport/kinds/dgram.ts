/**
 * The transport row of a dgram.Socket: a bound UDP socket (kind 'udp'), adopted as a dgram.Socket bound to
 * the same socket, receiving from the next datagram on.
 * @module
 */
import dgram from 'node:dgram';
import { dgramFd } from '../../binding/index.js';
import type { Envelope } from '../envelope.js';
import type { SocketFields } from './fields.js';
import { carriedAsNodeHandle, describedDescriptor, type Adoption, type TransportRow } from './row.js';

/** A bound UDP socket adopted from another process. The adopter owns `dgram`. */
export interface AdoptedDgram extends Adoption, SocketFields {
  /** A UDP socket. */
  kind: 'udp';
  /** Bound already, to the sender's address. */
  dgram: dgram.Socket;
}

const KINDS = {
  udp: { descriptor: { kind: 'udp', listening: false }, nodeIpcClass: dgram.Socket },
} as const;

export const dgramRow: TransportRow<dgram.Socket, AdoptedDgram> = {
  object: 'dgram.Socket',
  kinds: KINDS,
  is: (transport): transport is dgram.Socket => transport instanceof dgram.Socket,
  prepare(socket, backend) {
    const { kind, attachment, fields } =
      backend === 'unix'
        ? describedDescriptor(KINDS, dgramFd(socket), 'dgram.Socket', 'a UDP socket')
        : carriedAsNodeHandle(KINDS, 'udp', socket);
    return { kind, attachment, fields, buffered: undefined, restore() {}, release: () => socket.close() };
  },
  async adopt(attachment, envelope) {
    return {
      kind: 'udp',
      dgram:
        typeof attachment === 'number'
          ? await bindDgramOnFd(attachment, envelope.family)
          : (attachment as dgram.Socket),
    };
  },
  release: (adopted) => adopted.dgram.close(),
};

function bindDgramOnFd(fd: number, family: Envelope['family']): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(family === 'IPv6' ? 'udp6' : 'udp4');
    socket.once('error', reject);
    socket.bind({ fd }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}
