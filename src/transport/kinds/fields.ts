/**
 * The address fields of an envelope (family, local and remote addresses and ports, Unix paths): read from
 * the kernel's description of a descriptor (unix backend) or from the Node object itself (node-ipc backend),
 * and copied from an envelope into what the adopter gets.
 * @module
 */
import type dgram from 'node:dgram';
import net from 'node:net';
import type { SocketDescription } from '../../binding/index.js';
import type { Envelope } from '../envelope.js';

/** Envelope fields that describe the socket itself. */
export type SocketFields = Pick<
  Envelope,
  'family' | 'localAddress' | 'localPort' | 'remoteAddress' | 'remotePort' | 'localPath' | 'remotePath'
>;

/** Every field of SocketFields: each one an envelope carries is checked against the adopter's kernel. */
export const CHECKED_FIELDS = [
  'family',
  'localAddress',
  'localPort',
  'remoteAddress',
  'remotePort',
  'localPath',
  'remotePath',
] as const;

/** The fields of a descriptor, as the kernel describes it. */
export function fieldsOfDescription(description: SocketDescription): SocketFields {
  const fields: SocketFields = {};
  if (description.family === 'IPv4' || description.family === 'IPv6' || description.family === 'unix')
    fields.family = description.family;
  if (description.localAddress !== undefined) fields.localAddress = description.localAddress;
  if (description.localPort !== undefined) fields.localPort = description.localPort;
  if (description.remoteAddress !== undefined) fields.remoteAddress = description.remoteAddress;
  if (description.remotePort !== undefined) fields.remotePort = description.remotePort;
  if (description.localPath !== undefined) fields.localPath = description.localPath;
  if (description.remotePath !== undefined) fields.remotePath = description.remotePath;
  return fields;
}

/** Fields a Node object reports about itself (node-ipc backend, where there is no descriptor to ask). */
export function fieldsOfNodeObject(transport: net.Socket | net.Server | dgram.Socket): SocketFields {
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
  return {
    family: address.family === 'IPv6' ? 'IPv6' : 'IPv4',
    localAddress: address.address,
    localPort: address.port,
  };
}

/**
 * True when an envelope carries any address field. Written out field by field: it runs for every handed-off
 * connection, and a loop over CHECKED_FIELDS reads the envelope by computed key, a megamorphic lookup each.
 */
export function carriesSocketFields(envelope: Partial<Record<(typeof CHECKED_FIELDS)[number], unknown>>): boolean {
  return (
    envelope.family !== undefined ||
    envelope.localAddress !== undefined ||
    envelope.localPort !== undefined ||
    envelope.remoteAddress !== undefined ||
    envelope.remotePort !== undefined ||
    envelope.localPath !== undefined ||
    envelope.remotePath !== undefined
  );
}

/** The fields an envelope carries, for the adopted transport. */
export function envelopeFields(envelope: Envelope): SocketFields {
  const fields: SocketFields = {};
  if (!carriesSocketFields(envelope)) return fields;
  for (const key of CHECKED_FIELDS)
    if (envelope[key] !== undefined) (fields as Record<string, unknown>)[key] = envelope[key];
  return fields;
}
