// A frame must get exactly the descriptors its header announces, carried by a sendmsg that starts within the
// frame's header (docs/protocol.md, "Descriptors"). A raw peer that breaks this gets the channel closed with
// ERR_PORTUNUS_FD_COUNT_MISMATCH and every descriptor it sent closed; one that follows it with an unusual but
// legal split is understood.
//
// The receiver only sees reads, not sendmsg boundaries: the kernel glues fd-less writes in front of the one
// that carries descriptors into one read. A descriptor misplaced by a few bytes inside such a read cannot be
// told from a well-placed one (the counts still have to match). The tests that misplace a descriptor put
// more than one read's worth of bytes (PAD) in front of it, so that the reads split where the rule is broken.
import test from 'ava';
import fs from 'node:fs';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { addon, channelWithRawPeer, frame, probe, within } from '../../helpers/raw-endpoint.js';

/** A channel and a raw peer that has sent its hello and read the channel's. */
async function open() {
  const pair = await channelWithRawPeer();
  await within(pair.channel.ready, 'the hello');
  await pair.raw.frameOfType(0x01);
  return pair;
}

/** More than the endpoint reads at once (64 KiB), so that bytes behind it come in a later read. */
const PAD = Buffer.alloc(256 * 1024, 0x2e);

async function expectMismatch(t, count, send) {
  const before = openFdCount();
  const { channel, raw } = await open();
  const messages = [];
  channel.on('message', (message) => messages.push(message.fdCount));
  const probes = Array.from({ length: count }, () => probe());
  t.teardown(() => {
    channel.destroy();
    raw.close();
    for (const p of probes) p.reader.close();
  });
  try {
    await send(
      raw,
      probes.map((p) => p.fd),
    );
  } catch (error) {
    // The channel may close before a long sequence is written to the end (EPIPE, ECONNRESET).
    if (typeof error.errno !== 'number') throw error;
  }
  for (const p of probes) addon.close(p.fd);
  const error = await within(channel.closed, 'the channel to close');
  t.is(error?.code, 'ERR_PORTUNUS_FD_COUNT_MISMATCH', error?.message);
  t.deepEqual(messages, [], 'no frame of the broken sequence is delivered');
  for (const [i, p] of probes.entries()) {
    await p.reader.until((r) => r.status === 1, `descriptor ${i} to be closed`);
    p.reader.close();
  }
  await raw.until((r) => r.status !== undefined, 'the end of the channel socket');
  raw.close();
  await assertNoFdLeak(t, before);
}

test.serial('a frame announcing 2 descriptors that arrives with 1', (t) =>
  expectMismatch(t, 1, (raw, fds) => raw.write(frame(0x02, 'two?', { fdCount: 2 }), fds)),
);

test.serial('a frame announcing 1 descriptor that arrives with 3', (t) =>
  expectMismatch(t, 3, (raw, fds) => raw.write(frame(0x02, 'one?', { fdCount: 1 }), fds)),
);

test.serial('a frame announcing none that arrives with 1', (t) =>
  expectMismatch(t, 1, (raw, fds) => raw.write(frame(0x02, 'none?'), fds)),
);

test.serial('an empty frame announcing none that arrives with 1', (t) =>
  expectMismatch(t, 1, (raw, fds) => raw.write(frame(0x02, ''), fds)),
);

test.serial('a descriptor that rides on a payload byte instead of the header', (t) =>
  expectMismatch(t, 1, async (raw, fds) => {
    const bytes = frame(0x02, Buffer.concat([PAD, Buffer.from('late descriptor')]), { fdCount: 1 });
    await raw.write(bytes.subarray(0, 16 + PAD.length));
    await raw.write(bytes.subarray(16 + PAD.length), fds);
  }),
);

test.serial("a frame's descriptor that arrives with the next frame", (t) =>
  expectMismatch(t, 1, async (raw, fds) => {
    await raw.write(frame(0x02, PAD, { fdCount: 1 }));
    await raw.write(frame(0x02, 'I carry it'), fds);
  }),
);

test.serial('a second frame that announces one descriptor but brings two', (t) =>
  expectMismatch(t, 2, async (raw, fds) => {
    await raw.write(frame(0x02, 'first', { fdCount: 1 }), [fds[0]]);
    // The first frame took its descriptor; this one announces one but brings two.
    await raw.write(frame(0x02, 'second', { fdCount: 1 }), [fds[1], fds[1]]);
  }),
);

test.serial(
  'legal: descriptors on header bytes 0 and 7, as a foreign chunking sender may put them, in order',
  async (t) => {
    const before = openFdCount();
    const { channel, raw } = await open();
    const [first, second] = [probe(), probe()];
    const message = within(
      new Promise((resolve) =>
        channel.once('message', (m) => {
          const fds = m.takeFds();
          fds.forEach((fd, i) => fs.writeSync(fd, `fd ${i}`));
          for (const fd of fds) addon.close(fd);
          resolve([m.text(), fds.length]);
        }),
      ),
      'the message',
    );
    const bytes = frame(0x02, 'split', { fdCount: 2 });
    await raw.write(bytes.subarray(0, 7), [first.fd]);
    await raw.write(bytes.subarray(7, 16), [second.fd]);
    await raw.write(bytes.subarray(16));
    addon.close(first.fd);
    addon.close(second.fd);
    t.deepEqual(await message, ['split', 2]);
    for (const [i, p] of [first, second].entries()) {
      await p.reader.until((r) => r.status === 1, `descriptor ${i} to be closed`);
      t.is(p.reader.data.toString(), `fd ${i}`);
      p.reader.close();
    }
    t.false(channel.isClosed);
    channel.destroy();
    raw.close();
    await assertNoFdLeak(t, before);
  },
);

test.serial('legal: fd-less frames coalesced in front of a frame with descriptors, in one read', async (t) => {
  const before = openFdCount();
  const { channel, raw } = await open();
  const { fd, reader } = probe();
  const received = [];
  const all = within(
    new Promise((resolve) =>
      channel.on('message', (m) => {
        received.push([m.text(), m.fdCount]);
        if (received.length === 3) resolve();
      }),
    ),
    'three messages',
  );
  // The kernel glues the fd-less write in front of the one that carries the descriptor into one read: the
  // descriptor still belongs to the last frame only.
  await raw.write(Buffer.concat([frame(0x02, 'a'), frame(0x02, 'b')]));
  await raw.write(frame(0x02, 'c', { fdCount: 1 }), [fd]);
  addon.close(fd);
  await all;
  t.deepEqual(received, [
    ['a', 0],
    ['b', 0],
    ['c', 1],
  ]);
  await reader.until((r) => r.status === 1, 'the descriptor to be closed after the listener');
  reader.close();
  channel.destroy();
  raw.close();
  await assertNoFdLeak(t, before);
});
