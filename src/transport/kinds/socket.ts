/**
 * The transport row of a net.Socket: a connected TCP or Unix stream socket (kinds 'tcp' and 'unix'), sent
 * with the bytes Node had read and nobody consumed, and adopted as a net.Socket that reads from the first
 * byte the sender did not consume. Also the dispatcher's accepted connection: a TCP or Unix descriptor
 * without a Node object.
 * @module
 */
import net from 'node:net';
import { detachReads, fdBackend, socketFd, tcpSocketFromFd } from '../../binding/index.js';
import { PortunusError } from '../../errors.js';
import type { SocketFields } from './fields.js';
import {
  carriedAsNodeHandle,
  describedDescriptor,
  type Adoption,
  type PreparedTransport,
  type TransportRow,
} from './row.js';

/** A connected socket adopted from another process. The adopter owns `socket`. */
export interface AdoptedSocket extends Adoption, SocketFields {
  /** A TCP or a Unix stream connection. */
  kind: 'tcp' | 'unix';
  /** The connection, readable from the first byte the sender had not consumed. */
  socket: net.Socket;
}

const KINDS = {
  tcp: { descriptor: { kind: 'tcp', listening: false }, nodeIpcClass: net.Socket },
  unix: { descriptor: { kind: 'unix-stream', listening: false }, nodeIpcClass: undefined },
} as const;

export const socketRow: TransportRow<net.Socket, AdoptedSocket> = {
  object: 'net.Socket',
  kinds: KINDS,
  is: (transport): transport is net.Socket => transport instanceof net.Socket,
  prepare(socket, backend) {
    if (socket.connecting || socket.destroyed) {
      throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', 'only a connected socket can be handed off');
    }
    // Without a descriptor to ask (node-ipc), a socket with no remote port is a Unix one.
    const { kind, attachment, fields } =
      backend === 'unix'
        ? describedDescriptor(KINDS, socketFd(socket), 'net.Socket', 'a connected stream')
        : carriedAsNodeHandle(KINDS, socket.remotePort === undefined ? 'unix' : 'tcp', socket);
    const detached = detachReads(socket);
    return {
      kind,
      attachment,
      fields,
      buffered: detached.buffered,
      restore: () => detached.restore(),
      // destroy() closes this process's descriptor; unlike end() it sends no FIN, so the connection lives on.
      release: () => socket.destroy(),
    };
  },
  adopt(attachment, envelope, preRead) {
    const socket =
      typeof attachment !== 'number'
        ? (attachment as net.Socket)
        : envelope.kind === 'tcp'
          ? tcpSocketFromFd(attachment)
          : new net.Socket({ fd: attachment, readable: true, writable: true });
    // Bytes read before the handoff go in front of everything the kernel still holds for this socket.
    if (preRead.length > 0) socket.unshift(preRead);
    return { kind: envelope.kind, socket };
  },
  release: (adopted) => adopted.socket.destroy(),
};

/**
 * A TCP or Unix stream connection accepted as a raw descriptor, where no Node object exists in the sending
 * process (the dispatcher's fast path), ready to send. The caller knows the kind from the listener it
 * accepted on. The descriptor is closed once the peer acknowledges it.
 */
export function acceptedConnection(fd: number, kind: 'tcp' | 'unix'): PreparedTransport {
  return {
    kind,
    attachment: fd,
    fields: {},
    buffered: undefined,
    restore() {},
    release: () => fdBackend.close(fd),
  };
}
