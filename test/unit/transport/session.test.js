// The transport session (src/transport/session.ts) in one process, with raw descriptors (`{ fd }`, the kind
// whose kernel view the fake backend can make up), over the fake backend and the real one: handoffs of one
// tick batched into TRANSPORT frames, the ACK that closes the sender's copy, the NACK and the lost channel that
// give it back, refusals, a malformed ACK. The peer is a raw endpoint where the test plays the other session,
// a channel where it plays the adopter. What only the fake can do (a descriptor whose description changes in
// flight, a read that loses its descriptors) runs on the fake only. Handoffs of every kind between processes
// are in test/integration/transport/.
import test from 'ava';
import { adoptTransport, distributeTransport } from '../../../dist/index.js';
import { decodeTransportPayload, encodeAck, encodeNack } from '../../../dist/transport/envelope.js';
import { FD_BACKENDS, installFdBackend, readyChannels, socketsToSend, turn } from '../../helpers/fd-backends.js';
import { channelWithRawPeer, frame } from '../../helpers/raw-endpoint.js';
import { once, within } from '../../helpers/within.js';

const TRANSPORT = 0x10;
const ACK = 0x11;
const NACK = 0x12;

/** What a promise settled with: the value, or the error. */
const outcome = (promise) =>
  promise.then(
    (value) => value,
    (error) => error,
  );

/** A channel whose peer is a raw endpoint, both hellos exchanged. */
async function channelToRawPeer() {
  const { channel, raw } = await channelWithRawPeer();
  await within(channel.ready, 'the hello');
  return { channel, raw };
}

/** Waits until `raw` has `count` handed-off descriptors; returns the TRANSPORT frames and their envelopes. */
async function transportsReceived(raw, count) {
  const transports = (r) => r.frames.filter((f) => f.type === TRANSPORT);
  await raw.until((r) => transports(r).reduce((sum, f) => sum + f.fdCount, 0) >= count, `${count} handoffs`);
  const frames = transports(raw);
  return { frames, items: frames.flatMap((f) => decodeTransportPayload(f.payload).items) };
}

for (const kind of FD_BACKENDS) {
  test.serial(
    `handoffs of one tick share TRANSPORT frames (maxFdsPerMessage each); the ACK closes the sender's copies (${kind})`,
    async (t) => {
      const kit = installFdBackend(t, kind);
      const start = kit.fdCount();
      const { channel, raw } = await channelToRawPeer();
      const perFrame = kit.backend.maxFdsPerMessage;
      const { sent, closeAll } = socketsToSend(kit, perFrame + 1);
      const handoffs = sent.map((fd, i) => distributeTransport(channel, { fd }, { metadata: { i } }));
      const { frames, items } = await transportsReceived(raw, sent.length);
      t.deepEqual(
        frames.map((f) => f.fdCount),
        [perFrame, 1],
      );
      t.deepEqual(
        items.map((item) => [item.kind, item.metadata.i]),
        sent.map((_, i) => ['fd', i]),
      );
      t.is(new Set(items.map((item) => item.id)).size, sent.length, 'two handoffs share an id');
      const received = raw.takeFds();
      t.true(received.every((fd, i) => kit.sameFile(fd, sent[i])));
      await turn();
      t.true(
        sent.every((fd) => kit.isOpen(fd)),
        'a copy was closed before the answer',
      );
      await raw.write(frame(ACK, encodeAck(items.map((item) => item.id))));
      t.deepEqual(
        await within(Promise.all(handoffs), 'the handoffs'),
        items.map((item) => ({ id: item.id, kind: 'fd' })),
      );
      t.true(
        sent.every((fd) => !kit.isOpen(fd)),
        'a copy the peer acknowledged is still open',
      );
      received.forEach((fd) => kit.backend.close(fd));
      closeAll();
      channel.destroy();
      raw.close();
      await kit.assertNoFdLeak(t, start);
    },
  );

  test.serial(`keepOpen: the ACK leaves the sender's copy open (${kind})`, async (t) => {
    const kit = installFdBackend(t, kind);
    const start = kit.fdCount();
    const { channel, raw } = await channelToRawPeer();
    const { sent, closeAll } = socketsToSend(kit, 1);
    const handoff = distributeTransport(channel, { fd: sent[0] }, { keepOpen: true });
    const { items } = await transportsReceived(raw, 1);
    await raw.write(frame(ACK, encodeAck([items[0].id])));
    await within(handoff, 'the handoff');
    t.true(kit.isOpen(sent[0]));
    closeAll();
    channel.destroy();
    raw.close();
    await kit.assertNoFdLeak(t, start);
  });

  test.serial(`a NACK gives the descriptor back and rejects with the peer's code (${kind})`, async (t) => {
    const kit = installFdBackend(t, kind);
    const start = kit.fdCount();
    const { channel, raw } = await channelToRawPeer();
    const { sent, closeAll } = socketsToSend(kit, 2);
    const handoffs = sent.map((fd) => outcome(distributeTransport(channel, { fd })));
    const { items } = await transportsReceived(raw, 2);
    const [first, second] = items.map((item) => item.id);
    await raw.write(
      frame(
        NACK,
        encodeNack([
          { id: first, code: 'ERR_PORTUNUS_ADOPT_FAILED', message: 'no room' },
          // A code that is not portunus's own is reported as a refusal.
          { id: second, code: 'EACCES', message: 'not allowed' },
        ]),
      ),
    );
    const [refused, other] = await within(Promise.all(handoffs), 'the refusals');
    t.like(refused, { code: 'ERR_PORTUNUS_ADOPT_FAILED', id: first, remote: true });
    t.regex(refused.message, /no room/);
    t.like(other, { code: 'ERR_PORTUNUS_HANDOFF_REFUSED', id: second, remote: true });
    t.true(
      sent.every((fd) => kit.isOpen(fd)),
      'a refused descriptor was closed',
    );
    raw.takeFds().forEach((fd) => kit.backend.close(fd));
    closeAll();
    channel.destroy();
    raw.close();
    await kit.assertNoFdLeak(t, start);
  });

  test.serial(`a lost channel gives every handoff in flight back: ERR_PORTUNUS_CHANNEL_CLOSED (${kind})`, async (t) => {
    const kit = installFdBackend(t, kind);
    const start = kit.fdCount();
    const { channel, raw } = await channelToRawPeer();
    const { sent, closeAll } = socketsToSend(kit, 3);
    const handoffs = sent.map((fd) => outcome(distributeTransport(channel, { fd })));
    await transportsReceived(raw, 3);
    raw.takeFds().forEach((fd) => kit.backend.close(fd));
    raw.close();
    for (const result of await within(Promise.all(handoffs), 'the handoffs to fail'))
      t.like(result, { code: 'ERR_PORTUNUS_CHANNEL_CLOSED' });
    t.true(sent.every((fd) => kit.isOpen(fd)));
    await t.throwsAsync(within(distributeTransport(channel, { fd: sent[0] }), 'the refusal'), {
      code: 'ERR_PORTUNUS_CHANNEL_CLOSED',
    });
    t.true(kit.isOpen(sent[0]));
    closeAll();
    await kit.assertNoFdLeak(t, start);
  });

  test.serial(
    `a transport nobody adopts is refused: the receiver closes its copy, the sender keeps its own (${kind})`,
    async (t) => {
      const kit = installFdBackend(t, kind);
      const start = kit.fdCount();
      const { a, b } = await readyChannels(kit);
      const { sent, closeAll } = socketsToSend(kit, 1);
      const before = kit.fdCount();
      await t.throwsAsync(within(distributeTransport(a, { fd: sent[0] }), 'the refusal'), {
        code: 'ERR_PORTUNUS_HANDOFF_REFUSED',
      });
      t.true(kit.isOpen(sent[0]));
      t.is(kit.fdCount(), before, 'the receiver kept a copy of what it refused');
      closeAll();
      a.destroy();
      b.destroy();
      await kit.assertNoFdLeak(t, start);
    },
  );

  test.serial(
    `adoptTransport(): { kind: 'fd', fd } with metadata and pre-read bytes, the sender's copy closed on the ACK (${kind})`,
    async (t) => {
      const kit = installFdBackend(t, kind);
      const start = kit.fdCount();
      const { a, b } = await readyChannels(kit);
      const { sent, closeAll } = socketsToSend(kit, 1);
      const adopting = adoptTransport(b);
      const handoff = distributeTransport(
        a,
        { fd: sent[0] },
        { metadata: { route: 'x' }, preRead: Buffer.from('GET') },
      );
      const adopted = await within(adopting, 'the adoption');
      t.like(adopted, { kind: 'fd', metadata: { route: 'x' } });
      t.is(adopted.preRead.toString(), 'GET');
      // The ACK is on its way: the sender's copy is still open, and is the same socket.
      t.true(kit.sameFile(adopted.fd, sent[0]));
      t.like(await within(handoff, 'the handoff'), { id: adopted.id, kind: 'fd' });
      t.false(kit.isOpen(sent[0]));
      kit.backend.close(adopted.fd);
      const waiting = adoptTransport(b);
      b.destroy();
      await t.throwsAsync(within(waiting, 'the waiter to fail'), { code: 'ERR_PORTUNUS_CHANNEL_CLOSED' });
      closeAll();
      a.destroy();
      await kit.assertNoFdLeak(t, start);
    },
  );

  test.serial(
    `a malformed ACK is a warning; the handoff stays in flight until the channel closes (${kind})`,
    async (t) => {
      const kit = installFdBackend(t, kind);
      const start = kit.fdCount();
      const { channel, raw } = await channelToRawPeer();
      const { sent, closeAll } = socketsToSend(kit, 1);
      let settled = false;
      const handoff = outcome(distributeTransport(channel, { fd: sent[0] })).finally(() => (settled = true));
      await transportsReceived(raw, 1);
      const warning = once(channel, 'warning');
      await raw.write(frame(ACK, Buffer.from([0, 0, 1])));
      t.like(await warning, { code: 'ERR_PORTUNUS_BAD_ENVELOPE' });
      for (let i = 0; i < 5; i++) await turn();
      t.false(settled, 'the malformed ACK settled the handoff');
      t.false(channel.isClosed);
      raw.takeFds().forEach((fd) => kit.backend.close(fd));
      raw.close();
      t.like(await within(handoff, 'the handoff to fail'), { code: 'ERR_PORTUNUS_CHANNEL_CLOSED' });
      t.true(kit.isOpen(sent[0]));
      closeAll();
      await kit.assertNoFdLeak(t, start);
    },
  );
}

const TCP = {
  kind: 'tcp',
  family: 'IPv4',
  type: 'stream',
  listening: false,
  localAddress: '10.0.0.1',
  localPort: 8080,
  remoteAddress: '10.0.0.2',
  remotePort: 40000,
};

test.serial(
  "fake: a descriptor's addresses travel in its envelope and are checked on arrival: a view changed in flight is refused",
  async (t) => {
    const kit = installFdBackend(t, 'fake');
    const { a, b } = await readyChannels(kit);
    const adopted = [];
    b.on('transport', (transport) => adopted.push(transport));
    const fd = kit.fake.open(TCP);
    await within(distributeTransport(a, { fd }), 'the handoff');
    t.like(adopted[0], {
      kind: 'fd',
      family: 'IPv4',
      localAddress: '10.0.0.1',
      localPort: 8080,
      remoteAddress: '10.0.0.2',
      remotePort: 40000,
    });
    kit.backend.close(adopted[0].fd);
    const changing = kit.fake.open(TCP);
    const warning = once(b, 'warning');
    const refused = outcome(distributeTransport(a, { fd: changing }));
    // The envelope was made from the description above; the adopter's kernel now says otherwise.
    kit.fake.describeAs(changing, { ...TCP, remotePort: 40001 });
    t.like(await within(refused, 'the refusal'), { code: 'ERR_PORTUNUS_ENVELOPE_MISMATCH', remote: true });
    t.like(await warning, { code: 'ERR_PORTUNUS_ENVELOPE_MISMATCH' });
    t.is(adopted.length, 1);
    t.true(kit.isOpen(changing));
    kit.backend.close(changing);
    a.destroy();
    b.destroy();
    await kit.assertNoFdLeak(t, 0);
  },
);

test.serial('fake: a transport nobody adopts is refused before it is inspected, without a warning', async (t) => {
  const kit = installFdBackend(t, 'fake');
  const { a, b } = await readyChannels(kit);
  const warnings = [];
  b.on('warning', (warning) => warnings.push(warning.code));
  const fd = kit.fake.open(TCP);
  const refused = outcome(distributeTransport(a, { fd }));
  // Checked against its envelope, it would be refused as a mismatch.
  kit.fake.describeAs(fd, { ...TCP, remotePort: 40001 });
  t.like(await within(refused, 'the refusal'), { code: 'ERR_PORTUNUS_HANDOFF_REFUSED', remote: true });
  t.deepEqual(warnings, []);
  kit.backend.close(fd);
  a.destroy();
  b.destroy();
  await kit.assertNoFdLeak(t, 0);
});

test.serial(
  'fake: a TRANSPORT frame whose descriptors the kernel dropped: each handoff refused with ERR_PORTUNUS_TRUNCATED',
  async (t) => {
    const kit = installFdBackend(t, 'fake');
    const { a, b, fdB } = await readyChannels(kit);
    const adopted = [];
    b.on('transport', (transport) => adopted.push(transport));
    const { sent, closeAll } = socketsToSend(kit, 3);
    const before = kit.fdCount();
    kit.fake.truncateNextRead(fdB);
    const warning = once(b, 'warning');
    const handoffs = sent.map((fd) => outcome(distributeTransport(a, { fd })));
    for (const result of await within(Promise.all(handoffs), 'the refusals'))
      t.like(result, { code: 'ERR_PORTUNUS_TRUNCATED', remote: true });
    t.like(await warning, { code: 'ERR_PORTUNUS_TRUNCATED' });
    t.deepEqual(adopted, []);
    t.is(kit.fdCount(), before);
    closeAll();
    a.destroy();
    b.destroy();
    await kit.assertNoFdLeak(t, 0);
  },
);
