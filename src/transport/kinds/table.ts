/**
 * The transport table: one row per Node object that can be handed off (./socket.ts, ./server.ts,
 * ./dgram.ts, ./seqpacket.ts, ./raw-fd.ts), each with both halves; and what distributeTransport() and the session do with
 * it: find the row of an object to send, check an arriving attachment against its envelope, adopt it, close
 * it. A new kind of Node object is a new row file and one entry in ROWS.
 * @module
 */
import type dgram from 'node:dgram';
import type net from 'node:net';
import { fdBackend, type SocketDescription, type SocketKind } from '../../binding/index.js';
import { releaseAttachment, type Attachment } from '../../channel/index.js';
import { PortunusError, invalidArgument } from '../../errors.js';
import type { Envelope, TransportKind } from '../envelope.js';
import { dgramRow, type AdoptedDgram } from './dgram.js';
import { CHECKED_FIELDS, carriesSocketFields, envelopeFields, fieldsOfDescription } from './fields.js';
import { rawFdRow, type AdoptedFd } from './raw-fd.js';
import { seqpacketRow, type AdoptedSeqpacket } from './seqpacket.js';
import { isDescribedAs, type Backend, type KindSpec, type PreparedTransport, type TransportRow } from './row.js';
import { serverRow, type AdoptedServer } from './server.js';
import { socketRow, type AdoptedSocket } from './socket.js';

/** What can be handed off: a connected socket, a listening server, a bound UDP socket, or a raw descriptor. */
export type Transport =
  | net.Socket
  | net.Server
  | dgram.Socket
  | {
      /** A raw descriptor; described by the kernel's view of it and handed over as kind 'fd'. */
      fd: number;
    };

/** What `adoptTransport()` and the channel's `'transport'` event deliver. */
export type Adopted = AdoptedSocket | AdoptedServer | AdoptedDgram | AdoptedSeqpacket | AdoptedFd;

/** Compiles only while every kind of the wire protocol (TransportKind, ../envelope.ts) has a row. */
const everyKindHasARow: Exclude<TransportKind, Adopted['kind']> extends never ? true : never = true;
void everyKindHasARow;

/** A row of any Node object: each row's own types are checked in its file, the table only passes values on. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the rows differ in their types by design
type AnyRow = TransportRow<any, any>;

/** The rows, in the order an object to send is matched against them: `{ fd }` last, any object with an fd. */
const ROWS: readonly AnyRow[] = [socketRow, serverRow, dgramRow, seqpacketRow, rawFdRow];

/** The row and the spec of each kind, for arriving envelopes: every row brings its own kinds. */
const KINDS = new Map<string, { row: AnyRow; spec: KindSpec }>(
  ROWS.flatMap((row) => Object.entries<KindSpec>(row.kinds).map(([kind, spec]) => [kind, { row, spec }] as const)),
);

function kindOf(kind: TransportKind): { row: AnyRow; spec: KindSpec } {
  return KINDS.get(kind)!;
}

/** Throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE unless `transport` is something that can be handed off. */
export function validateTransport(transport: unknown): asserts transport is Transport {
  const row = ROWS.find((candidate) => candidate.is(transport));
  if (row === undefined) {
    const objects = ROWS.filter((candidate) => candidate.neverSent !== true).map((candidate) => candidate.object);
    throw invalidArgument('transport', `a ${objects.slice(0, -1).join(', ')} or ${objects.at(-1)}`, transport);
  }
  row.validate?.(transport);
}

/**
 * Prepares a transport, already checked by validateTransport(), for sending over a channel of the given
 * backend. Throws ERR_PORTUNUS_UNSUPPORTED for an object that cannot be handed off as it is, or a kind the
 * backend cannot carry.
 */
export function prepareTransport(transport: Transport, backend: Backend): PreparedTransport {
  return ROWS.find((row) => row.is(transport))!.prepare(transport, backend);
}

function mismatch(envelope: Envelope, detail: string): PortunusError {
  return new PortunusError(
    'ERR_PORTUNUS_ENVELOPE_MISMATCH',
    `transport ${envelope.id} claims to be '${envelope.kind}' but ${detail}`,
    { id: envelope.id, kind: envelope.kind },
  );
}

/** The kind the kernel's description says a descriptor is ('fd' aside, which any descriptor is), if any. */
function kindOfDescription(description: SocketKind): string | undefined {
  for (const [kind, { spec }] of KINDS)
    if (spec.descriptor !== undefined && isDescribedAs(description, spec)) return kind;
  return undefined;
}

/**
 * Checks an arriving attachment against its envelope: the kernel's view of a descriptor (unix), or the
 * class of the Node object (node-ipc). Throws ERR_PORTUNUS_ENVELOPE_MISMATCH.
 */
export function verifyArrival(envelope: Envelope, attachment: Attachment): void {
  const { spec } = kindOf(envelope.kind);
  if (typeof attachment !== 'number') {
    const expected = spec.nodeIpcClass;
    if (expected === undefined || !(attachment instanceof expected))
      throw mismatch(envelope, `a ${attachment.constructor.name} arrived`);
    return;
  }
  // An envelope without addresses (the dispatcher's accepted connections) only needs the kind: that check
  // runs for every handed-off connection, so it skips the addresses and the object describeSocket builds.
  const checksFields = carriesSocketFields(envelope);
  let description: SocketDescription | SocketKind;
  try {
    description = checksFields ? fdBackend.describeSocket(attachment) : fdBackend.socketKind(attachment);
  } catch (error) {
    throw mismatch(envelope, `its descriptor cannot be inspected (${(error as Error).message})`);
  }
  if (!isDescribedAs(description, spec)) {
    const actual = kindOfDescription(description);
    throw mismatch(envelope, `the descriptor is ${actual === undefined ? `a ${description.kind}` : `'${actual}'`}`);
  }
  if (!checksFields) return;
  const fields = fieldsOfDescription(description as SocketDescription);
  for (const key of CHECKED_FIELDS) {
    if (envelope[key] !== undefined && envelope[key] !== fields[key]) {
      throw mismatch(envelope, `its ${key} is ${JSON.stringify(fields[key])}, not ${JSON.stringify(envelope[key])}`);
    }
  }
}

/**
 * Builds the Node object for a verified attachment. On success the returned object owns the descriptor;
 * on failure the attachment is closed before the error is thrown (or the promise rejects). A row that
 * adopts synchronously (a connection) gets its result back synchronously: no promise and no microtask turn
 * per handed-off connection. Rows that must wait (a server or a UDP socket binding) return a promise.
 */
export function adoptArrival(envelope: Envelope, attachment: Attachment, preRead: Buffer): Adopted | Promise<Adopted> {
  // The dispatcher's connections carry no address fields: no object to spread for them.
  const base = carriesSocketFields(envelope)
    ? { id: envelope.id, metadata: envelope.metadata, preRead, ...envelopeFields(envelope) }
    : { id: envelope.id, metadata: envelope.metadata, preRead };
  let part: ReturnType<AnyRow['adopt']>;
  try {
    part = kindOf(envelope.kind).row.adopt(attachment, envelope, preRead);
  } catch (cause) {
    throw adoptFailed(envelope, attachment, cause);
  }
  if (!(part instanceof Promise)) return { ...base, ...part } as Adopted;
  return part.then(
    (adopted) => ({ ...base, ...adopted }) as Adopted,
    (cause) => {
      throw adoptFailed(envelope, attachment, cause);
    },
  );
}

/** Closes an attachment that could not be adopted and says why. */
function adoptFailed(envelope: Envelope, attachment: Attachment, cause: unknown): PortunusError {
  releaseQuietly(attachment);
  return new PortunusError(
    'ERR_PORTUNUS_ADOPT_FAILED',
    `could not adopt transport ${envelope.id} (${envelope.kind}): ${(cause as Error).message}`,
    { cause, id: envelope.id },
  );
}

/** Closes an attachment nobody will own, ignoring a descriptor that is already gone. */
export function releaseQuietly(attachment: Attachment): void {
  try {
    releaseAttachment(attachment);
  } catch {
    // Already closed by the object that failed to take it.
  }
}

/**
 * An {@link Adopted} transport without what only a handoff over a channel has (an id, metadata, bytes read
 * before): a socket this process held already, such as one `listenFds()` took.
 */
export type HeldTransport = Adopted extends infer A
  ? A extends unknown
    ? Omit<A, 'id' | 'metadata' | 'preRead'>
    : never
  : never;

/** Closes an adopted transport (its Node object, or the raw descriptor). */
export function releaseAdopted(adopted: HeldTransport): void {
  kindOf(adopted.kind).row.release(adopted);
}

/**
 * @internal Builds the Node object for a descriptor this process holds already (one it inherited at exec,
 * as from systemd), the row chosen by the kernel's description of it: a listening stream socket becomes a
 * net.Server, a connected one a net.Socket, a UDP socket a dgram.Socket, anything else stays `{ fd }`. On
 * success the returned object owns the descriptor; on failure it is left open for the caller to close.
 */
export async function adoptHeldDescriptor(fd: number): Promise<HeldTransport> {
  const description = fdBackend.describeSocket(fd);
  const kind = (kindOfDescription(description) ?? 'fd') as TransportKind;
  const fields = fieldsOfDescription(description);
  const envelope: Envelope = { id: 0, kind, preRead: 0, ...fields };
  const part = await kindOf(kind).row.adopt(fd, envelope, Buffer.alloc(0));
  return { ...fields, ...part } as HeldTransport;
}
