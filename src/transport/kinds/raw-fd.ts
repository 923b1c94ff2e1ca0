/**
 * The transport row of a raw descriptor, `{ fd }` (kind 'fd'): any descriptor, a pipe, a file or a socket
 * Node knows nothing about, handed over as it is; the adopter gets the number and owns it. A connected
 * seqpacket socket is sent the same way but as kind 'unix-seqpacket', so that the adopter can build its
 * Node object (./seqpacket.ts) where it has one.
 * @module
 */
import { fdBackend } from '../../binding/index.js';
import { validateFd } from '../../validate.js';
import { fieldsOfDescription, type SocketFields } from './fields.js';
import { unsupportedOnNodeIpc, type Adoption, type TransportRow } from './row.js';

/** A raw descriptor adopted from another process. The adopter owns `fd` and must close it. */
export interface AdoptedFd extends Adoption, SocketFields {
  /** A descriptor handed over as is. */
  kind: 'fd';
  /** The descriptor, close-on-exec, owned by the adopter. */
  fd: number;
}

export const rawFdRow: TransportRow<{ fd: number }, AdoptedFd> = {
  object: '{ fd }',
  // Any descriptor is an 'fd'; Node's IPC carries Node objects only.
  kinds: { fd: { descriptor: undefined, nodeIpcClass: undefined } },
  is: (transport): transport is { fd: number } =>
    typeof transport === 'object' && transport !== null && 'fd' in transport,
  validate: (transport) => validateFd(transport.fd, 'transport.fd'),
  prepare({ fd }, backend) {
    if (backend === 'node-ipc') unsupportedOnNodeIpc('fd');
    // A socket's addresses go along (and are checked on arrival); a pipe or a file has none.
    let fields: SocketFields = {};
    let kind: 'fd' | 'unix-seqpacket' = 'fd';
    try {
      const description = fdBackend.describeSocket(fd);
      fields = fieldsOfDescription(description);
      // Connected: it has a peer (getpeername answered), which a listening or a fresh socket has not.
      if (description.kind === 'unix-seqpacket' && description.remotePath !== undefined) kind = 'unix-seqpacket';
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EBADF') throw error;
    }
    return {
      kind,
      attachment: fd,
      fields,
      buffered: undefined,
      restore() {},
      release: () => fdBackend.close(fd),
    };
  },
  adopt: (attachment) => ({ kind: 'fd', fd: attachment as number }),
  release: (adopted) => fdBackend.close(adopted.fd),
};
