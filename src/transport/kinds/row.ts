/**
 * What one row of the transport table (./table.ts) is: a Node object that can be handed off, with both
 * halves (how the sender prepares it and lets go of it, how the adopter rebuilds it and closes it) for both
 * backends; and the two steps every sending half starts with, one per backend.
 * @module
 */
import type dgram from 'node:dgram';
import type net from 'node:net';
import { fdBackend, type SocketKind } from '../../binding/index.js';
import type { Attachment, Channel, NodeHandle } from '../../channel/index.js';
import { PortunusError } from '../../errors.js';
import type { Envelope, TransportKind } from '../envelope.js';
import { fieldsOfDescription, fieldsOfNodeObject, type SocketFields } from './fields.js';

/** Which backend carries the channel: descriptors ('unix') or Node's own IPC handles ('node-ipc'). */
export type Backend = Channel['backend'];

/** What one transport kind is to the kernel and to Node's IPC. */
export interface KindSpec {
  /** What describeSocket() reports for a descriptor of this kind; undefined for 'fd', which any descriptor is. */
  readonly descriptor: { readonly kind: SocketKind['kind']; readonly listening: boolean } | undefined;
  /** The class Node's IPC delivers for this kind (node-ipc backend); undefined where it cannot travel that way. */
  readonly nodeIpcClass: typeof net.Socket | typeof net.Server | typeof dgram.Socket | undefined;
}

/** True when the kernel's description of a descriptor is what `spec` says a descriptor of its kind is. */
export function isDescribedAs(description: SocketKind, spec: KindSpec): boolean {
  if (spec.descriptor === undefined) return true;
  return description.kind === spec.descriptor.kind && (description.listening === true) === spec.descriptor.listening;
}

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

/** What every adopted transport carries besides its Node object and address fields. */
export interface Adoption {
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

/** An adopted transport of some kind: the common fields, the address fields, its kind and its object. */
export type AdoptedTransport = Adoption & SocketFields & { kind: TransportKind };

/** What a row's adopt() builds: the kind and the Node object, without the fields common to all kinds. */
export type AdoptedPart<A extends AdoptedTransport> = Omit<A, keyof Adoption | keyof SocketFields>;

/**
 * One row of the transport table: a Node object that can be handed off (`T`) and the adopted transports
 * it becomes (`A`), for each of its kinds (a net.Socket is a TCP or a Unix connection). The backends differ
 * inside prepare() and adopt(); on arrival the table checks an attachment against `kinds` before adopt().
 * `F` is what adopt() may build instead where the Node object cannot be had (a seqpacket socket without
 * node-unix-socket arrives as a raw descriptor); `F`'s own row releases it.
 */
export interface TransportRow<T, A extends AdoptedTransport, F extends AdoptedTransport = A> {
  /** The Node object, as messages name it ('net.Socket'). */
  readonly object: string;
  /**
   * True for a row whose Node object is recognised only to be refused with a reason (prepare() always
   * throws): argument errors then leave it out of the list of what can be sent.
   */
  readonly neverSent?: true;
  /** The kinds this row hands off and adopts, and what each is to the kernel and to Node's IPC. */
  readonly kinds: { readonly [K in A['kind']]: KindSpec };
  /** True for this row's Node object. */
  is(transport: unknown): transport is T;
  /** Throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE for an object of this row that cannot be one to send. */
  validate?(transport: T): void;
  /**
   * Makes it ready to send on a channel of `backend`, without closing or changing anything that restore()
   * does not put back. Throws ERR_PORTUNUS_UNSUPPORTED for an object that cannot be handed off as it is.
   */
  prepare(transport: T, backend: Backend): PreparedTransport;
  /**
   * Builds the Node object on an arriving attachment already checked against `kinds`: a descriptor (unix),
   * or the Node object Node's IPC built (node-ipc). On success the returned object owns the attachment.
   */
  adopt(
    attachment: Attachment,
    envelope: Envelope & { kind: A['kind'] },
    preRead: Buffer,
  ): AdoptedPart<A | F> | Promise<AdoptedPart<A | F>>;
  /** Closes an adopted transport of this row. */
  release(adopted: A): void;
}

/**
 * What the sending half learns first about the object: its kind, what to attach, the envelope's fields. Rows
 * copy these three into their PreparedTransport by name: spreading the object costs about 3 µs per handoff.
 */
export type Described<K extends TransportKind> = { kind: K; attachment: Attachment; fields: SocketFields };

/**
 * The unix backend's first step: the descriptor under the object (still the object's) is described by the
 * kernel, which says which of `kinds` it is. Throws ERR_PORTUNUS_UNSUPPORTED when it is none of them.
 */
export function describedDescriptor<K extends TransportKind>(
  kinds: { readonly [kind in K]: KindSpec },
  fd: number,
  object: string,
  expected: string,
): Described<K> {
  const description = fdBackend.describeSocket(fd);
  const kind = (Object.keys(kinds) as K[]).find((candidate) => isDescribedAs(description, kinds[candidate]));
  if (kind === undefined) {
    throw new PortunusError(
      'ERR_PORTUNUS_UNSUPPORTED',
      `this ${object} is a ${description.kind} socket${description.listening ? ' that listens' : ''}, not ${expected}`,
    );
  }
  return { kind, attachment: fd, fields: fieldsOfDescription(description) };
}

/**
 * The node-ipc backend's first step: Node's IPC carries the object itself, for the kinds it can carry;
 * `kind` is what the object says it is, there being no descriptor to ask. Throws ERR_PORTUNUS_UNSUPPORTED.
 */
export function carriedAsNodeHandle<K extends TransportKind>(
  kinds: { readonly [kind in K]: KindSpec },
  kind: K,
  object: NodeHandle,
): Described<K> {
  if (kinds[kind].nodeIpcClass === undefined) unsupportedOnNodeIpc(kind);
  return { kind, attachment: object, fields: fieldsOfNodeObject(object) };
}

/** Throws ERR_PORTUNUS_UNSUPPORTED for a kind that Node's IPC cannot carry. */
export function unsupportedOnNodeIpc(kind: TransportKind): never {
  throw new PortunusError(
    'ERR_PORTUNUS_UNSUPPORTED',
    `the node-ipc backend cannot carry a transport of kind '${kind}' (it carries TCP sockets, TCP servers and UDP sockets)`,
    { kind },
  );
}
