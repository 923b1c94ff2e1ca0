// Descriptor counts at and around the limits: SCM_MAX_FD (253 per sendmsg on Linux, one fewer elsewhere) and
// MAX_FDS_PER_FRAME (1024). A frame with more than one sendmsg carries goes out in chunks, each riding on one
// byte of the frame's header; the receiver must put them back together in order.
import test from 'ava';
import fs from 'node:fs';
import { channelPair } from '../../../dist/index.js';
import { maxFdsPerMessage } from '../../../dist/fd.js';
import { MAX_FDS_PER_FRAME } from '../../../dist/protocol.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { addon, channelWithRawPeer, within } from '../../helpers/raw-endpoint.js';

const M = addon.maxFdsPerMessage;

/** `count` distinct descriptors (socketpair ends, each its own inode), and their inode numbers in order. */
function distinctSockets(count) {
  const fds = [];
  while (fds.length < count) fds.push(...addon.socketPair('stream'));
  if (fds.length > count) addon.close(fds.pop());
  return { fds, inodes: fds.map((fd) => fs.fstatSync(fd).ino) };
}

/**
 * Sends `count` distinct sockets in a single message; the receiver lists the inode of each descriptor in the
 * order it got them, which matches the sender's list only if every descriptor arrived, each at its place.
 */
async function roundTrip(t, count) {
  const before = openFdCount();
  const [a, b] = channelPair();
  const { fds, inodes } = distinctSockets(count);
  const arrived = within(
    new Promise((resolve) => {
      b.once('message', (message) => {
        const received = message.takeFds();
        const receivedInodes = received.map((fd) => fs.fstatSync(fd).ino);
        for (const fd of received) addon.close(fd);
        resolve({ payload: message.payload.toString(), inodes: receivedInodes });
      });
    }),
    `a message with ${count} descriptors`,
  );
  try {
    await within(a.send(`${count} sockets`, fds), 'send to resolve');
  } finally {
    for (const fd of fds) addon.close(fd);
  }
  const got = await arrived;
  t.is(got.payload, `${count} sockets`);
  t.is(got.inodes.length, count);
  t.deepEqual(got.inodes, inodes);
  await a.close();
  await b.close();
  await assertNoFdLeak(t, before);
}

test.serial('the per-sendmsg limit is what the native layer reports', (t) => {
  t.is(maxFdsPerMessage, M);
  t.true(M === 253 || M === 252);
});

test.serial(`${M} descriptors (one full sendmsg) arrive in order`, (t) => roundTrip(t, M));
test.serial('254 descriptors (two sendmsg calls) arrive in order', (t) => roundTrip(t, 254));
test.serial(`${MAX_FDS_PER_FRAME} descriptors (MAX_FDS_PER_FRAME) arrive in order`, (t) =>
  roundTrip(t, MAX_FDS_PER_FRAME),
);

test.serial(
  'a chunked frame rides on consecutive header bytes: full chunks first, the rest with the remaining bytes',
  async (t) => {
    const before = openFdCount();
    const { channel, raw } = await channelWithRawPeer();
    await within(channel.ready, 'the hello');
    // Once the channel's hello is read, the next read starts at the DATA frame.
    await raw.frameOfType(0x01);
    const start = raw.data.length;
    const count = 2 * M + 94;
    const [kept, sent] = addon.socketPair('stream');
    const copies = Array.from({ length: count }, () => addon.dup(sent));
    addon.close(sent);
    addon.close(kept);
    await channel.send('chunked', copies);
    for (const fd of copies) addon.close(fd);
    await raw.until(
      (r) => r.frames.some((f) => f.type === 0x02) && r.reads.reduce((n, read) => n + read.fds.length, 0) === count,
      'the chunked frame',
    );
    t.deepEqual(
      raw.reads.map(({ offset, length, fds, truncated }) => ({
        offset: offset - start,
        length,
        fds: fds.length,
        truncated,
      })),
      [
        { offset: 0, length: 1, fds: M, truncated: false },
        { offset: 1, length: 1, fds: M, truncated: false },
        { offset: 2, length: 14 + 'chunked'.length, fds: 94, truncated: false },
      ],
    );
    t.like(
      raw.frames.find((f) => f.type === 0x02),
      { fdCount: count },
    );
    channel.destroy();
    raw.close();
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  `${MAX_FDS_PER_FRAME + 1} descriptors are refused with ERR_PORTUNUS_TOO_MANY_FDS; the channel and the caller's descriptors are untouched`,
  async (t) => {
    const before = openFdCount();
    const [a, b] = channelPair();
    const [kept, sent] = addon.socketPair('stream');
    const copies = Array.from({ length: MAX_FDS_PER_FRAME + 1 }, () => addon.dup(sent));
    const error = await t.throwsAsync(a.send('too many', copies));
    t.is(error.code, 'ERR_PORTUNUS_TOO_MANY_FDS');
    // The caller still owns every descriptor it passed.
    t.true(copies.every((fd) => fs.fstatSync(fd).isSocket()));
    for (const fd of copies) addon.close(fd);
    // The channel goes on.
    const next = within(
      new Promise((resolve) => b.once('message', (message) => resolve([message.text(), message.fdCount]))),
      'the next message',
    );
    await a.send('after', [sent]);
    t.deepEqual(await next, ['after', 1]);
    t.false(a.isClosed);
    addon.close(sent);
    addon.close(kept);
    await a.close();
    await b.close();
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  `the native write refuses ${M + 1} descriptors as an argument error, where sendmsg would fail with EINVAL`,
  async (t) => {
    const before = openFdCount();
    const [a, b] = addon.socketPair('stream');
    const endpoint = new addon.Endpoint(
      a,
      () => {},
      () => {},
    );
    const copies = Array.from({ length: M + 1 }, () => addon.dup(b));
    const error = t.throws(() => endpoint.write(Buffer.from('x'), 0, 1, Int32Array.from(copies)));
    t.is(error.code, 'ERR_INVALID_ARG_TYPE');
    t.is(endpoint.write(Buffer.from('x'), 0, 1, Int32Array.from(copies.slice(0, M))), 1);
    for (const fd of copies) addon.close(fd);
    endpoint.close();
    addon.close(b);
    await assertNoFdLeak(t, before);
  },
);
