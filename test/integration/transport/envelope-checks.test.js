// The adopter does not trust envelopes. One that lies about what it carries (its kind, or on the unix
// backend an address the kernel contradicts) is refused with ERR_PORTUNUS_ENVELOPE_MISMATCH: the child
// closes the descriptor and warns, the sender's promise rejects with that code and the sender still owns
// the socket. A TRANSPORT frame that does not decode is dropped with an ERR_PORTUNUS_BAD_ENVELOPE warning,
// its descriptors closed, and the channel stays open. Lying and malformed frames are written raw with
// channel.writeFrame(), laid out as src/transport/envelope.ts encodes them.
import test from 'ava';
import dgram from 'node:dgram';
import { distributeTransport } from '../../../dist/index.js';
import { fdBackend } from '../../../dist/binding/index.js';
import { BACKENDS, collector, connectedPair, listening, startPeer, within } from '../../helpers/backends.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';

const SERVE = 'transport-adopt-and-serve';
const TRANSPORT = 0x10;
const ACK = 0x11;
const NACK = 0x12;

/** A TRANSPORT payload: u32 JSON length, the JSON document, then the pre-read bytes. */
function transportPayload(document, preReadBytes = Buffer.alloc(0)) {
  const json = Buffer.from(typeof document === 'string' ? document : JSON.stringify(document));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([length, json, preReadBytes]);
}

/** Makes the channel's own TRANSPORT frames carry envelopes edited by `edit`; returns the undo. */
function lieInEnvelopes(channel, edit) {
  const writeFrame = channel.writeFrame;
  channel.writeFrame = function (type, payload, attachments, done) {
    if (type === TRANSPORT) {
      const length = Buffer.from(payload).readUInt32BE(0);
      const document = JSON.parse(Buffer.from(payload).toString('utf8', 4, 4 + length));
      document.items = document.items.map((item) => edit({ ...item }));
      payload = transportPayload(document, Buffer.from(payload).subarray(4 + length));
    }
    return writeFrame.call(this, type, payload, attachments, done);
  };
  return () => {
    delete channel.writeFrame;
  };
}

async function rejection(promise, what) {
  return within(
    promise.then(
      () => undefined,
      (error) => error,
    ),
    what,
  );
}

/** A lying handoff of `transport` is refused, the child closed what it got, and warned. */
async function assertMismatchRefused(t, peer, transport, edit) {
  const childBefore = await peer.fdCount();
  const undo = lieInEnvelopes(peer.channel, edit);
  const error = await rejection(distributeTransport(peer.channel, transport), 'the NACK');
  undo();
  t.truthy(error, 'the lying handoff was refused');
  t.is(error?.code, 'ERR_PORTUNUS_ENVELOPE_MISMATCH');
  const warning = await peer.take('warning');
  t.is(warning.code, 'ERR_PORTUNUS_ENVELOPE_MISMATCH');
  const childAfter = await peer.settledFdCount(childBefore);
  t.true(
    childAfter <= childBefore,
    `the child closed the descriptor it refused (${childAfter}, ${childBefore} before)`,
  );
}

for (const backend of BACKENDS) {
  test.serial(
    `an envelope that lies about the kind is refused with ENVELOPE_MISMATCH; the sender keeps the socket (${backend})`,
    async (t) => {
      const before = openFdCount();
      const peer = await startPeer(t, backend, SERVE);
      const server = await listening('127.0.0.1', { pauseOnConnect: true });
      const { client, accepted } = await connectedPair(server);
      const atClient = collector(client);

      await assertMismatchRefused(t, peer, accepted, (item) => ({ ...item, kind: 'tcp-server' }));
      await assertMismatchRefused(t, peer, accepted, (item) => ({ ...item, kind: 'udp' }));
      t.false(accepted.destroyed);
      const atSender = collector(accepted);
      accepted.write('still here');
      await atClient.until('still here');
      client.write('to sender');
      await atSender.until('to sender');
      accepted.removeAllListeners('data');
      accepted.pause();

      const udp = dgram.createSocket('udp4');
      await new Promise((resolve) => udp.bind(0, '127.0.0.1', resolve));
      await assertMismatchRefused(t, peer, udp, (item) => ({ ...item, kind: 'tcp' }));
      t.is(udp.address().port > 0, true, 'the UDP socket is still bound here');
      udp.close();

      // Address-less envelopes (the dispatcher's) are checked by kind alone, with the cheap check: a
      // listening TCP socket or a UDP socket passed off as a connection is still caught.
      const kindOnly = (kind) => (item) => ({ id: item.id, kind, preRead: item.preRead });
      await assertMismatchRefused(t, peer, server, kindOnly('tcp'));
      t.true(server.listening, 'the listener is still listening here');
      const udp2 = dgram.createSocket('udp4');
      await new Promise((resolve) => udp2.bind(0, '127.0.0.1', resolve));
      await assertMismatchRefused(t, peer, udp2, kindOnly('tcp'));
      udp2.close();

      // Told the truth, the same socket is adopted: the refusals left it intact.
      const handoff = await within(
        distributeTransport(peer.channel, accepted, { metadata: { mode: 'echo' } }),
        'the ACK',
      );
      await peer.take('adopted', (report) => report.id === handoff.id);
      client.write('now the child');
      await atClient.until('now the child');
      t.is(atClient.text, 'still herenow the child');

      client.destroy();
      server.close();
      await peer.stop();
      await assertNoFdLeak(t, before);
    },
  );

  test.serial(
    `TRANSPORT frames that do not decode: BAD_ENVELOPE warning, descriptors closed, channel open (${backend})`,
    async (t) => {
      const before = openFdCount();
      const peer = await startPeer(t, backend, SERVE);
      const server = await listening('127.0.0.1', { pauseOnConnect: true });
      const { client, accepted } = await connectedPair(server);
      const childBefore = await peer.fdCount();
      const malformed = {
        'shorter than its length field': Buffer.from([0, 0]),
        'JSON that does not parse': transportPayload('{"items": [nope'),
        'a JSON length past the payload': Buffer.from([0, 0, 1, 0, 0x7b]),
        'no items array': transportPayload({ things: [] }),
        'fewer envelopes than descriptors': transportPayload({ items: [] }),
        'an unknown kind': transportPayload({ items: [{ id: 77, kind: 'pipe', preRead: 0 }] }),
        'a bad port': transportPayload({ items: [{ id: 78, kind: 'tcp', preRead: 0, localPort: 70000 }] }),
        'pre-read bytes past the payload': transportPayload(
          { items: [{ id: 79, kind: 'tcp', preRead: 10 }] },
          Buffer.from('short'),
        ),
        'bytes after the last pre-read section': transportPayload(
          { items: [{ id: 80, kind: 'tcp', preRead: 0 }] },
          Buffer.from('extra'),
        ),
      };
      for (const [what, payload] of Object.entries(malformed)) {
        // The unix backend carries a descriptor (a copy of the accepted one), node-ipc the socket itself.
        const attachment = backend === 'unix' ? fdBackend.dup(accepted._handle.fd) : accepted;
        await peer.channel.sendFrame(TRANSPORT, payload, [attachment]);
        if (backend === 'unix') fdBackend.close(attachment);
        const warning = await peer.take('warning');
        t.is(warning.code, 'ERR_PORTUNUS_BAD_ENVELOPE', what);
        const childAfter = await peer.settledFdCount(childBefore);
        t.true(
          childAfter <= childBefore,
          `the child closed the descriptor (${what}: ${childAfter}, ${childBefore} before)`,
        );
      }

      // Answers the child cannot place: an ACK that is not whole ids, a NACK that does not parse; an ACK for
      // an id it never sent is ignored.
      await peer.channel.sendFrame(ACK, Buffer.from([0, 0, 1]));
      t.is((await peer.take('warning')).code, 'ERR_PORTUNUS_BAD_ENVELOPE');
      await peer.channel.sendFrame(NACK, Buffer.from('{"items": ['));
      t.is((await peer.take('warning')).code, 'ERR_PORTUNUS_BAD_ENVELOPE');
      await peer.channel.sendFrame(ACK, Buffer.from([0, 0, 3, 0xe7]));

      // The channel lives on: the connection, never really handed off, still goes over.
      t.false(peer.channel.isClosed);
      await within(peer.channel.ping(), 'a ping');
      const atClient = collector(client);
      const handoff = await within(
        distributeTransport(peer.channel, accepted, { metadata: { mode: 'echo' } }),
        'the ACK',
      );
      await peer.take('adopted', (report) => report.id === handoff.id);
      client.write('after the garbage');
      await atClient.until('after the garbage');
      t.is(peer.seen('warning').length, Object.keys(malformed).length + 2, 'no other warning');

      client.destroy();
      server.close();
      await peer.stop();
      await assertNoFdLeak(t, before);
    },
  );
}

test.serial(
  'an envelope whose addresses the kernel contradicts is refused with ENVELOPE_MISMATCH (unix)',
  async (t) => {
    const before = openFdCount();
    const peer = await startPeer(t, 'unix', SERVE);
    const server = await listening('127.0.0.1', { pauseOnConnect: true });
    const { client, accepted } = await connectedPair(server);
    await assertMismatchRefused(t, peer, accepted, (item) => ({ ...item, remotePort: (item.remotePort % 65535) + 1 }));
    await assertMismatchRefused(t, peer, accepted, (item) => ({ ...item, localAddress: '127.0.0.2' }));
    await assertMismatchRefused(t, peer, accepted, (item) => ({ ...item, family: 'IPv6' }));
    // A raw descriptor's kind is not checked, but its addresses are; refused, it is still the caller's to close.
    const copy = fdBackend.dup(accepted._handle.fd);
    await assertMismatchRefused(t, peer, { fd: copy }, (item) => ({
      ...item,
      localPort: (item.localPort % 65535) + 1,
    }));
    fdBackend.close(copy);
    t.false(accepted.destroyed);
    const atClient = collector(client);
    accepted.write("still the sender's");
    await atClient.until("still the sender's");
    client.destroy();
    accepted.destroy();
    server.close();
    await peer.stop();
    await assertNoFdLeak(t, before);
  },
);
