// EndpointLink (src/channel/endpoint-link.ts) under a channel, with the fake backend's fault injection: how
// frames become writes (descriptors chunked by maxFdsPerMessage, fd-less frames coalesced), what EAGAIN,
// ENOBUFS, ETOOMANYREFS and other sendmsg errors do to the queue, and reads cut anywhere or truncated. The
// chunking test also runs over the real backend, where one sendmsg carries 253 descriptors (252 off glibc).
import test from 'ava';
import {
  FD_BACKENDS,
  installFdBackend,
  outcome,
  readyChannels,
  socketsToSend,
  turn,
} from '../../helpers/fd-backends.js';
import { nextMessage, once, until, within } from '../../helpers/within.js';

const HEADER_SIZE = 16;

for (const kind of FD_BACKENDS) {
  test.serial(
    `a frame with more descriptors than one sendmsg carries arrives whole, in order, sent in chunks (${kind})`,
    async (t) => {
      const kit = installFdBackend(t, kind);
      const start = kit.fdCount();
      const { a, b, fdA } = await readyChannels(kit);
      const perWrite = kit.backend.maxFdsPerMessage;
      // Three writes on the fake (4 + 4 + 1), two on the real backend.
      const count = Math.min(2 * perWrite + 1, 300);
      const { sent, closeAll } = socketsToSend(kit, count);
      const writesBefore = kit.fake?.writesOf(fdA).length;
      const arrived = nextMessage(b, (message) => message.takeFds());
      await a.send('many', sent);
      const { taken } = await arrived;
      t.is(taken.length, count);
      t.true(
        taken.every((fd, i) => kit.sameFile(fd, sent[i])),
        'descriptors out of order',
      );
      if (kit.fake !== undefined) {
        // Each full chunk rides on one byte of the header; the last chunk goes with the rest of the frame.
        const frameBytes = HEADER_SIZE + 'many'.length;
        t.deepEqual(kit.fake.writesOf(fdA).slice(writesBefore), [
          { bytes: 1, fds: 4 },
          { bytes: 1, fds: 4 },
          { bytes: frameBytes - 2, fds: 1 },
        ]);
      }
      taken.forEach((fd) => kit.backend.close(fd));
      closeAll();
      a.destroy();
      b.destroy();
      await kit.assertNoFdLeak(t, start);
    },
  );
}

test.serial('fake: frames of one tick share a write until one with descriptors, which starts its own', async (t) => {
  const kit = installFdBackend(t, 'fake');
  const { a, b, fdA } = await readyChannels(kit);
  const { sent, closeAll } = socketsToSend(kit, 1);
  const writesBefore = kit.fake.writesOf(fdA).length;
  const received = [];
  b.on('message', (message) => received.push(`${message.text()}/${message.fdCount}`));
  await Promise.all([a.send('1'), a.send('2'), a.send('3', sent), a.send('4')]);
  const frame = HEADER_SIZE + 1;
  t.deepEqual(kit.fake.writesOf(fdA).slice(writesBefore), [
    { bytes: 2 * frame, fds: 0 },
    { bytes: 2 * frame, fds: 1 },
  ]);
  await until(() => received.length === 4, 'the four messages');
  t.deepEqual(received, ['1/0', '2/0', '3/1', '4/0']);
  closeAll();
  a.destroy();
  b.destroy();
  await kit.assertNoFdLeak(t, 0);
});

test.serial("fake: EAGAIN keeps the queue until the socket is writable; one 'drain' then", async (t) => {
  const kit = installFdBackend(t, 'fake');
  const { a, b, fdA } = await readyChannels(kit, { highWaterMark: 1024 });
  let drains = 0;
  a.on('drain', () => drains++);
  kit.fake.blockWrites(fdA);
  let settled = false;
  const sent = outcome(a.send(Buffer.alloc(4096))).finally(() => (settled = true));
  for (let i = 0; i < 10; i++) await turn();
  t.false(settled, 'the send settled while the socket took nothing');
  t.is(a.queuedBytes, HEADER_SIZE + 4096);
  t.true(a.writableNeedDrain);
  t.is(drains, 0);
  const arrived = nextMessage(b);
  kit.fake.unblockWrites(fdA);
  t.is(await within(sent, 'the send'), 'resolved');
  t.is(drains, 1);
  t.false(a.writableNeedDrain);
  t.is((await arrived).message.payload.length, 4096);
  a.destroy();
  b.destroy();
});

test.serial('fake: ENOBUFS and ETOOMANYREFS are retried; another sendmsg error ends the channel with it', async (t) => {
  const kit = installFdBackend(t, 'fake');
  const { a, b, fdA } = await readyChannels(kit);
  kit.fake.failNextWrite(fdA, 'ENOBUFS');
  kit.fake.failNextWrite(fdA, 'ETOOMANYREFS');
  const arrived = nextMessage(b);
  await within(a.send('through'), 'the send');
  t.is((await arrived).message.text(), 'through');
  t.false(a.isClosed);
  kit.fake.failNextWrite(fdA, 'EINVAL');
  const failed = outcome(a.send('never'));
  const error = await within(a.closed, 'the channel to close');
  t.like(error, { code: 'EINVAL', syscall: 'sendmsg', fd: fdA });
  t.like(await failed, { code: 'ERR_PORTUNUS_CHANNEL_CLOSED', cause: error });
  t.is(await within(b.closed, "the peer's close"), undefined);
  await kit.assertNoFdLeak(t, 0);
});

test.serial('fake: reads of 3 bytes each cut frames and chunks anywhere; every frame arrives whole', async (t) => {
  const kit = installFdBackend(t, 'fake', { readChunk: 3 });
  const { a, b } = await readyChannels(kit);
  const { sent, closeAll } = socketsToSend(kit, 6);
  const received = [];
  b.on('message', (message) => received.push({ text: message.text(), fds: message.takeFds() }));
  await Promise.all([a.send('first'), a.send('six', sent), a.send(''), a.send('one', sent.slice(2, 3))]);
  await until(() => received.length === 4, 'the four messages');
  t.deepEqual(
    received.map((message) => message.text),
    ['first', 'six', '', 'one'],
  );
  t.true(received[1].fds.every((fd, i) => kit.sameFile(fd, sent[i])));
  t.true(kit.sameFile(received[3].fds[0], sent[2]));
  received.flatMap((message) => message.fds).forEach((fd) => kit.backend.close(fd));
  closeAll();
  a.destroy();
  b.destroy();
  await kit.assertNoFdLeak(t, 0);
});

test.serial(
  'fake: a chunk truncated in the middle of a frame: the descriptors of its other chunks are closed',
  async (t) => {
    const kit = installFdBackend(t, 'fake');
    const { a, b, fdB } = await readyChannels(kit);
    // Chunks of 4, 4 and 1: the second one loses its descriptors.
    const { sent, closeAll } = socketsToSend(kit, 9);
    const before = kit.fdCount();
    kit.fake.truncateNextRead(fdB, 1);
    const warning = once(b, 'warning');
    await a.send('nine', sent);
    t.like(await warning, { code: 'ERR_PORTUNUS_TRUNCATED' });
    t.is(kit.fdCount(), before, 'a descriptor of the truncated frame was kept');
    t.false(b.isClosed);
    closeAll();
    a.destroy();
    b.destroy();
    await kit.assertNoFdLeak(t, 0);
  },
);
