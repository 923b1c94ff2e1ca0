/**
 * The transport table: for every kind of socket, how the sending side describes it and lets go of it, how
 * the receiving side checks an arriving descriptor against its envelope, and how it rebuilds a real Node
 * object on it. Both backends are covered: raw descriptors (unix) and Node handles (node-ipc).
 * @module
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import { detachReads, dgramFd, fdBackend, serverFd, socketFd, tcpSocketFromFd, type SocketDescription, type SocketKind } from '../binding/index.js';
import { releaseAttachment, type Attachment } from '../channel/index.js';
import { PortunusError, invalidArgument } from '../errors.js';
import { validateFd } from '../validate.js';
import type { Envelope, TransportKind } from './envelope.js';

/** What can be handed off: a connected socket, a listening server, a bound UDP socket, or a raw descriptor. */
export type Transport =
  | net.Socket
  | net.Server
  | dgram.Socket
  | {
      /** A raw descriptor; described by the kernel's view of it and handed over as kind 'fd'. */
      fd: number;
    };

/** Envelope fields that describe the socket itself. */
export type SocketFields = Pick<Envelope, 'family' | 'localAddress' | 'localPort' | 'remoteAddress' | 'remotePort' | 'localPath' | 'remotePath'>;

/** A transport made ready to send: what to attach, how to describe it, and how to let go of it. */
export interface PreparedTransport {
  kind: TransportKind;
  attachment: Attachment;
  fields: SocketFields;
  /** Bytes Node had read from the socket that nobody consumed: they travel as pre-read bytes. */
  buffered: Buffer | undefined;
  /** The handoff failed: give the transport back to its owner as it was. */
  restore(): void;
  /** The peer adopted it: close this process's copy (close only, never shutdown). */
  release(): void;
}

interface Adoption {
  /** The id the sender gave this handoff. */
  id: number;
  /** The sender's `metadata` option, parsed from JSON (undefined when none was given). */
  metadata: unknown;
  /**
   * The bytes read before the handoff that came along with it: the sender's `preRead` option, then bytes
   * Node had buffered that nobody read. A Buffer of its own, empty when nothing came along. A connection
   * (`socket`) reads them first, they are back in front of its stream already; for the other kinds they are
   * not put back anywhere.
   */
  preRead: Buffer;
}

/** A connected socket adopted from another process. The adopter owns `socket`. */
export interface AdoptedSocket extends Adoption, SocketFields {
  /** A TCP or a Unix stream connection. */
  kind: 'tcp' | 'unix';
  /** The connection, readable from the first byte the sender had not consumed. */
  socket: net.Socket;
}

/** A listening socket adopted from another process. The adopter owns `server`. */
export interface AdoptedServer extends Adoption, SocketFields {
  /** A TCP or a Unix stream listener. */
  kind: 'tcp-server' | 'unix-server';
  /**
   * Listening already, on the same socket as the sender's. A TCP listener keeps the accept queue limit the
   * sender gave it (read with TCP_INFO, on Linux); elsewhere, and for a Unix listener, Node's default backlog
   * (511) applies again when Node listens on the adopted descriptor.
   */
  server: net.Server;
}

/** A bound UDP socket adopted from another process. The adopter owns `dgram`. */
export interface AdoptedDgram extends Adoption, SocketFields {
  /** A UDP socket. */
  kind: 'udp';
  /** Bound already, to the sender's address. */
  dgram: dgram.Socket;
}

/** A raw descriptor adopted from another process. The adopter owns `fd` and must close it. */
export interface AdoptedFd extends Adoption, SocketFields {
  /** A descriptor handed over as is. */
  kind: 'fd';
  /** The descriptor, close-on-exec, owned by the adopter. */
  fd: number;
}

/** What `adoptTransport()` and the channel's `'transport'` event deliver. */
export type Adopted = AdoptedSocket | AdoptedServer | AdoptedDgram | AdoptedFd;

/** Maps what the kernel says about a descriptor to a transport kind (undefined: not a transportable socket). */
export function kindOfDescription(description: SocketKind): Exclude<TransportKind, 'fd'> | undefined {
  switch (description.kind) {
    case 'tcp':
      return description.listening ? 'tcp-server' : 'tcp';
    case 'unix-stream':
      return description.listening ? 'unix-server' : 'unix';
    case 'udp':
      return 'udp';
    default:
      return undefined;
  }
}

function fieldsOfDescription(description: SocketDescription): SocketFields {
  const fields: SocketFields = {};
  if (description.family === 'IPv4' || description.family === 'IPv6' || description.family === 'unix') fields.family = description.family;
  if (description.localAddress !== undefined) fields.localAddress = description.localAddress;
  if (description.localPort !== undefined) fields.localPort = description.localPort;
  if (description.remoteAddress !== undefined) fields.remoteAddress = description.remoteAddress;
  if (description.remotePort !== undefined) fields.remotePort = description.remotePort;
  if (description.localPath !== undefined) fields.localPath = description.localPath;
  if (description.remotePath !== undefined) fields.remotePath = description.remotePath;
  return fields;
}

/** Fields a Node object reports about itself (node-ipc backend, where there is no descriptor to ask). */
function fieldsOfNodeObject(transport: net.Socket | net.Server | dgram.Socket): SocketFields {
  if (transport instanceof net.Socket) {
    const fields: SocketFields = {};
    if (transport.remoteFamily === 'IPv4' || transport.remoteFamily === 'IPv6') fields.family = transport.remoteFamily;
    if (transport.localAddress !== undefined) fields.localAddress = transport.localAddress;
    if (transport.localPort !== undefined) fields.localPort = transport.localPort;
    if (transport.remoteAddress !== undefined) fields.remoteAddress = transport.remoteAddress;
    if (transport.remotePort !== undefined) fields.remotePort = transport.remotePort;
    return fields;
  }
  const address = transport.address();
  if (typeof address === 'string' || address === null) return { family: 'unix', localPath: address ?? '' };
  return { family: address.family === 'IPv6' ? 'IPv6' : 'IPv4', localAddress: address.address, localPort: address.port };
}

/** Throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE unless `transport` is something that can be handed off. */
export function validateTransport(transport: unknown): asserts transport is Transport {
  if (transport instanceof net.Socket || transport instanceof net.Server || transport instanceof dgram.Socket) return;
  if (typeof transport === 'object' && transport !== null && 'fd' in transport) {
    validateFd(transport.fd, 'transport.fd');
    return;
  }
  throw invalidArgument('transport', 'a net.Socket, net.Server, dgram.Socket or { fd }', transport);
}

function unsupportedOnNodeIpc(kind: TransportKind): never {
  throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', `the node-ipc backend cannot carry a transport of kind '${kind}' (it carries TCP sockets, TCP servers and UDP sockets)`, { kind });
}

/**
 * Prepares a transport, already checked by validateTransport(), for sending over a channel of the given
 * backend. Throws ERR_PORTUNUS_UNSUPPORTED for a kind the backend cannot carry.
 */
export function prepareTransport(transport: Transport, backend: 'unix' | 'node-ipc'): PreparedTransport {
  if (transport instanceof net.Socket) return prepareSocket(transport, backend);
  if (transport instanceof net.Server) return prepareServer(transport, backend);
  if (transport instanceof dgram.Socket) return prepareDgram(transport, backend);
  return prepareRawFd(transport.fd, backend);
}

function prepareRawFd(fd: number, backend: 'unix' | 'node-ipc'): PreparedTransport {
  if (backend === 'node-ipc') unsupportedOnNodeIpc('fd');
  let fields: SocketFields = {};
  try {
    fields = fieldsOfDescription(fdBackend.describeSocket(fd));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EBADF') throw error;
  }
  return { kind: 'fd', attachment: fd, fields, buffered: undefined, restore() {}, release: () => fdBackend.close(fd) };
}

/**
 * Prepares a connection accepted as a raw descriptor (the dispatcher's fast path, where no Node object
 * exists in the sending process). The descriptor is closed once the peer acknowledges it.
 */
export function prepareAcceptedFd(fd: number, kind: 'tcp' | 'unix'): PreparedTransport {
  return { kind, attachment: fd, fields: {}, buffered: undefined, restore() {}, release: () => fdBackend.close(fd) };
}

function prepareSocket(socket: net.Socket, backend: 'unix' | 'node-ipc'): PreparedTransport {
  if (socket.connecting || socket.destroyed) {
    throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', 'only a connected socket can be handed off');
  }
  let kind: TransportKind;
  let attachment: Attachment;
  let fields: SocketFields;
  if (backend === 'unix') {
    const fd = socketFd(socket);
    const description = fdBackend.describeSocket(fd);
    const described = kindOfDescription(description);
    if (described !== 'tcp' && described !== 'unix') {
      throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', `this net.Socket is a ${description.kind} socket${description.listening ? ' that listens' : ''}, not a connected stream`);
    }
    kind = described;
    attachment = fd;
    fields = fieldsOfDescription(description);
  } else {
    if (socket.remotePort === undefined) unsupportedOnNodeIpc('unix');
    kind = 'tcp';
    attachment = socket;
    fields = fieldsOfNodeObject(socket);
  }
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
}

function prepareServer(server: net.Server, backend: 'unix' | 'node-ipc'): PreparedTransport {
  if (!server.listening) throw new PortunusError('ERR_PORTUNUS_UNSUPPORTED', 'only a listening server can be handed off');
  const address = server.address();
  // A Unix server Node did not bind itself (listening on an adopted descriptor) has no address at all.
  const kind: TransportKind = typeof address === 'object' && address !== null ? 'tcp-server' : 'unix-server';
  if (backend === 'node-ipc') {
    if (kind !== 'tcp-server') unsupportedOnNodeIpc(kind);
    return { kind, attachment: server, fields: fieldsOfNodeObject(server), buffered: undefined, restore() {}, release: () => server.close() };
  }
  const fd = serverFd(server);
  const release = typeof address === 'string' ? () => closeKeepingName(server, address) : () => server.close();
  return { kind, attachment: fd, fields: fieldsOfDescription(fdBackend.describeSocket(fd)), buffered: undefined, restore() {}, release };
}

/**
 * Closes a handed-off Unix listener without taking its name along: libuv unlinks the socket file of a
 * server that bound it itself when that server closes, which would leave the adopter listening on a socket
 * nobody can reach by path. A second hard link keeps the file and is renamed back right after the close
 * (a client connecting within those microseconds gets ENOENT). Abstract names have no file.
 */
function closeKeepingName(server: net.Server, socketPath: string): void {
  let spare: string | undefined;
  if (!socketPath.startsWith('\0')) {
    spare = `${socketPath}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      fs.linkSync(socketPath, spare);
    } catch {
      spare = undefined; // no name left to keep, or no right to link next to it: close as before
    }
  }
  server.close();
  if (spare === undefined) return;
  try {
    // A close that unlinked nothing (a libuv that does not) leaves the spare link to drop.
    if (fs.existsSync(socketPath)) fs.unlinkSync(spare);
    else fs.renameSync(spare, socketPath);
  } catch {
    // Nothing better to do; the adopter's listener works, only its name may be gone.
  }
}

function prepareDgram(socket: dgram.Socket, backend: 'unix' | 'node-ipc'): PreparedTransport {
  if (backend === 'node-ipc') {
    return { kind: 'udp', attachment: socket, fields: fieldsOfNodeObject(socket), buffered: undefined, restore() {}, release: () => socket.close() };
  }
  const fd = dgramFd(socket);
  return { kind: 'udp', attachment: fd, fields: fieldsOfDescription(fdBackend.describeSocket(fd)), buffered: undefined, restore() {}, release: () => socket.close() };
}

function mismatch(envelope: Envelope, detail: string): PortunusError {
  return new PortunusError('ERR_PORTUNUS_ENVELOPE_MISMATCH', `transport ${envelope.id} claims to be '${envelope.kind}' but ${detail}`, { id: envelope.id, kind: envelope.kind });
}

const CHECKED_FIELDS = ['family', 'localAddress', 'localPort', 'remoteAddress', 'remotePort', 'localPath', 'remotePath'] as const;

/**
 * Checks an arriving attachment against its envelope: the kernel's view of a descriptor (unix), or the
 * kind of Node object (node-ipc). Throws ERR_PORTUNUS_ENVELOPE_MISMATCH.
 */
export function verifyArrival(envelope: Envelope, attachment: Attachment): void {
  if (typeof attachment !== 'number') {
    const expected = KINDS[envelope.kind].nodeIpcClass;
    if (expected === undefined || !(attachment instanceof expected)) throw mismatch(envelope, `a ${attachment.constructor.name} arrived`);
    return;
  }
  // An envelope without addresses (the dispatcher's accepted connections) only needs the kind: that check
  // runs for every handed-off connection, so it skips the addresses and the object describeSocket builds.
  const checksFields = CHECKED_FIELDS.some((key) => envelope[key] !== undefined);
  let description: SocketDescription | SocketKind;
  try {
    description = checksFields ? fdBackend.describeSocket(attachment) : fdBackend.socketKind(attachment);
  } catch (error) {
    throw mismatch(envelope, `its descriptor cannot be inspected (${(error as Error).message})`);
  }
  if (envelope.kind !== 'fd') {
    const actual = kindOfDescription(description);
    if (actual !== envelope.kind) {
      throw mismatch(envelope, `the descriptor is ${actual === undefined ? `a ${description.kind}` : `'${actual}'`}`);
    }
  }
  if (!checksFields) return;
  const fields = fieldsOfDescription(description as SocketDescription);
  for (const key of CHECKED_FIELDS) {
    if (envelope[key] !== undefined && envelope[key] !== fields[key]) {
      throw mismatch(envelope, `its ${key} is ${JSON.stringify(fields[key])}, not ${JSON.stringify(envelope[key])}`);
    }
  }
}

function envelopeFields(envelope: Envelope): SocketFields {
  const fields: SocketFields = {};
  for (const key of CHECKED_FIELDS) if (envelope[key] !== undefined) (fields as Record<string, unknown>)[key] = envelope[key];
  return fields;
}

/**
 * Builds the Node object for a verified attachment. On success the returned object owns the descriptor;
 * on failure the attachment is closed before the error is thrown.
 */
export async function adoptArrival(envelope: Envelope, attachment: Attachment, preRead: Buffer): Promise<Adopted> {
  const base = { id: envelope.id, metadata: envelope.metadata, preRead, ...envelopeFields(envelope) };
  try {
    return { ...base, ...(await KINDS[envelope.kind].adopt(attachment, envelope, preRead)) } as Adopted;
  } catch (cause) {
    releaseQuietly(attachment);
    throw new PortunusError('ERR_PORTUNUS_ADOPT_FAILED', `could not adopt transport ${envelope.id} (${envelope.kind}): ${(cause as Error).message}`, { cause, id: envelope.id });
  }
}

function listenOnFd(fd: number): Promise<net.Server> {
  // Node calls listen() again on the descriptor, with 511 unless told otherwise: keep the accept queue the
  // socket already has (where the kernel says what it is), or an adopted listener would shrink it.
  let backlog: number | undefined;
  try {
    backlog = fdBackend.describeSocket(fd).backlog;
  } catch {
    // listen() will report what is wrong with this descriptor.
  }
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    const listening = () => {
      server.off('error', reject);
      resolve(server);
    };
    // With { fd }, Node takes the backlog from the argument after the options, not from the options.
    if (backlog === undefined) server.listen({ fd }, listening);
    else server.listen({ fd }, backlog, listening);
  });
}

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

/** Closes an attachment nobody will own, ignoring a descriptor that is already gone. */
export function releaseQuietly(attachment: Attachment): void {
  try {
    releaseAttachment(attachment);
  } catch {
    // Already closed by the object that failed to take it.
  }
}

/** Closes an adopted transport (its Node object, or the raw descriptor). */
export function releaseAdopted(adopted: Adopted): void {
  KINDS[adopted.kind].release(adopted);
}

/** What the adopted transport of a kind carries besides the common fields. */
type AdoptedPart = Pick<AdoptedSocket, 'kind' | 'socket'> | Pick<AdoptedServer, 'kind' | 'server'> | Pick<AdoptedDgram, 'kind' | 'dgram'> | Pick<AdoptedFd, 'kind' | 'fd'>;

interface KindEntry {
  /** The Node object Node's IPC delivers for this kind (node-ipc backend); undefined where it cannot travel. */
  nodeIpcClass: typeof net.Socket | typeof net.Server | typeof dgram.Socket | undefined;
  /** Builds the Node object on an arriving descriptor (or takes the Node object itself). */
  adopt(attachment: Attachment, envelope: Envelope, preRead: Buffer): AdoptedPart | Promise<AdoptedPart>;
  /** Closes an adopted transport of this kind. */
  release(adopted: Adopted): void;
}

function adoptSocket(kind: 'tcp' | 'unix'): KindEntry['adopt'] {
  return (attachment, _envelope, preRead) => {
    const socket =
      typeof attachment !== 'number'
        ? (attachment as net.Socket)
        : kind === 'tcp'
          ? tcpSocketFromFd(attachment)
          : new net.Socket({ fd: attachment, readable: true, writable: true });
    // Bytes read before the handoff go in front of everything the kernel still holds for this socket.
    if (preRead.length > 0) socket.unshift(preRead);
    return { kind, socket };
  };
}

function adoptServer(kind: 'tcp-server' | 'unix-server'): KindEntry['adopt'] {
  return async (attachment) => ({ kind, server: typeof attachment === 'number' ? await listenOnFd(attachment) : (attachment as net.Server) });
}

const destroySocket = (adopted: Adopted) => (adopted as AdoptedSocket).socket.destroy();
const closeServer = (adopted: Adopted) => (adopted as AdoptedServer).server.close();

/** The receiving half of the transport table: one row per kind (the sending half is prepareTransport). */
const KINDS: Record<TransportKind, KindEntry> = {
  tcp: { nodeIpcClass: net.Socket, adopt: adoptSocket('tcp'), release: destroySocket },
  unix: { nodeIpcClass: undefined, adopt: adoptSocket('unix'), release: destroySocket },
  'tcp-server': { nodeIpcClass: net.Server, adopt: adoptServer('tcp-server'), release: closeServer },
  'unix-server': { nodeIpcClass: undefined, adopt: adoptServer('unix-server'), release: closeServer },
  udp: {
    nodeIpcClass: dgram.Socket,
    adopt: async (attachment, envelope) => ({
      kind: 'udp',
      dgram: typeof attachment === 'number' ? await bindDgramOnFd(attachment, envelope.family) : (attachment as dgram.Socket),
    }),
    release: (adopted) => (adopted as AdoptedDgram).dgram.close(),
  },
  fd: { nodeIpcClass: undefined, adopt: (attachment) => ({ kind: 'fd', fd: attachment as number }), release: (adopted) => fdBackend.close((adopted as AdoptedFd).fd) },
};
