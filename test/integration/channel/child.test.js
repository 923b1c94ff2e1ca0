// Descriptors and messages across a real process boundary: a child fixture receives descriptors on a
// channel and proves it can use them (reads a pipe, writes on a TCP connection the parent accepted, writes
// on every copy of a pipe's write end), messages stay in order both ways, frames with more descriptors
// than one sendmsg carries arrive whole, and large payloads arrive intact. Each test checks this process's
// open descriptor count before and after.
import test from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { closeFd, dupFd, maxFdsPerMessage } from '../../../dist/fd.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { openFifo, readToEnd } from '../../helpers/fifo.js';
import { spawnFixture } from '../../helpers/spawn-fixture.js';
import { once, within } from '../../helpers/within.js';

/** Closes the parent's end and checks that the child, with nothing else to do, exits 0. */
async function stop(t, { channel, exited }) {
  await within(channel.close(), 'the channel to close');
  t.deepEqual(await within(exited, 'the child to exit'), { code: 0, signal: null });
}

async function childFdCount(channel, reports) {
  const nonce = crypto.randomUUID();
  await channel.send(JSON.stringify({ op: 'fd-count', nonce }));
  return (await reports.take('fd-count', (report) => report.nonce === nonce)).count;
}

test.serial('the child reads a pipe whose read end it received', async (t) => {
  const before = openFdCount();
  const child = spawnFixture(t, 'use-received-fds');
  await within(child.channel.ready, "the child's hello");
  const { readFd, writeFd } = await openFifo();
  try {
    await within(child.channel.send(JSON.stringify({ op: 'read-to-end' }), [readFd]), 'the send');
  } finally {
    // The child holds its own copy now: reading works without ours.
    fs.closeSync(readFd);
  }
  fs.writeSync(writeFd, 'sent through a pipe the child did not open');
  fs.closeSync(writeFd);
  const { text } = await child.reports.take('read');
  t.is(text, 'sent through a pipe the child did not open');
  await stop(t, child);
  await assertNoFdLeak(t, before);
});

test.serial('the child writes on a TCP connection this process accepted', async (t) => {
  const before = openFdCount();
  const child = spawnFixture(t, 'use-received-fds');
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = once(server, 'connection', 'the accepted connection');
  const client = net.connect(server.address().port, '127.0.0.1');
  const received = new Promise((resolve, reject) => {
    const chunks = [];
    client.on('data', (chunk) => chunks.push(chunk));
    client.on('end', () => resolve(Buffer.concat(chunks).toString()));
    client.on('error', reject);
  });
  const socket = await accepted;
  try {
    await within(
      child.channel.send(JSON.stringify({ op: 'write-socket', text: 'hello from the child' }), [socket._handle.fd]),
      'the send',
    );
  } finally {
    // Closes this process's descriptor only: the connection lives on in the child.
    socket.destroy();
  }
  await child.reports.take('written');
  t.is(await within(received, 'the bytes and the end of stream on the client'), 'hello from the child');
  client.destroy();
  await new Promise((resolve) => server.close(resolve));
  await stop(t, child);
  await assertNoFdLeak(t, before);
});

test.serial('messages stay in order both ways', async (t) => {
  const before = openFdCount();
  const child = spawnFixture(t, 'echo-messages');
  const count = 2000;
  const sent = [];
  for (let i = 0; i < count; i++) sent.push(child.channel.send(`message ${i}`));
  await within(Promise.all(sent), 'every send to complete');
  const echoes = await child.reports.takeMany('raw', count);
  t.deepEqual(
    echoes.map((echo) => echo.payload.toString()),
    Array.from({ length: count }, (_, i) => `message ${i}`),
  );
  await stop(t, child);
  await assertNoFdLeak(t, before);
});

for (const size of [0, 1, 16, 65_535, 65_543, 1024 * 1024]) {
  test.serial(`a payload of ${size} bytes arrives intact, there and back`, async (t) => {
    const before = openFdCount();
    const child = spawnFixture(t, 'echo-messages');
    // Starts with 0xff so that the helper never mistakes it for a JSON report.
    const payload = crypto.randomBytes(size);
    if (size > 0) payload[0] = 0xff;
    await within(child.channel.send(payload), 'the send');
    const { payload: echo } = await child.reports.take('raw');
    t.is(echo.length, size);
    t.true(echo.equals(payload), 'the echo differs from what was sent');
    await stop(t, child);
    await assertNoFdLeak(t, before);
  });
}

// 253 is what one sendmsg carries on Linux: the counts around it and its multiples take the chunked path.
const FD_COUNTS = [
  1,
  2,
  maxFdsPerMessage - 1,
  maxFdsPerMessage,
  maxFdsPerMessage + 1,
  300,
  2 * maxFdsPerMessage,
  2 * maxFdsPerMessage + 1,
  1024,
];

for (const n of FD_COUNTS) {
  test.serial(`a message with ${n} descriptors arrives with all of them, each usable`, async (t) => {
    const before = openFdCount();
    const child = spawnFixture(t, 'use-received-fds');
    await within(child.channel.ready, "the child's hello");
    const childBefore = await childFdCount(child.channel, child.reports);
    const { readFd, writeFd } = await openFifo();
    const copies = Array.from({ length: n }, () => dupFd(writeFd));
    try {
      await within(child.channel.send(JSON.stringify({ op: 'write-each' }), copies), 'the send');
    } finally {
      for (const fd of copies) closeFd(fd);
      fs.closeSync(writeFd);
    }
    const report = await child.reports.take('wrote-each');
    t.is(report.count, n);
    t.deepEqual(report.kinds, ['fifo']);
    // EOF comes only once the child has closed every copy it received: one byte per copy, then the end.
    const bytes = await within(readToEnd(readFd), 'the end of the pipe');
    t.is(bytes.toString(), 'x'.repeat(n));
    // Not above where it started: a leak. (Node 24 may close one descriptor of its own in between.)
    const childAfter = await childFdCount(child.channel, child.reports);
    t.true(childAfter <= childBefore, `the child holds ${childAfter} descriptors, ${childBefore} before`);
    await stop(t, child);
    await assertNoFdLeak(t, before);
  });
}

test.serial('a message with more than 1024 descriptors is refused before anything is sent', async (t) => {
  const before = openFdCount();
  const child = spawnFixture(t, 'echo-messages');
  const { readFd, writeFd } = await openFifo();
  const copies = Array.from({ length: 1025 }, () => dupFd(writeFd));
  const error = await t.throwsAsync(child.channel.send('too many', copies));
  t.is(error.code, 'ERR_PORTUNUS_TOO_MANY_FDS');
  for (const fd of copies) closeFd(fd);
  fs.closeSync(writeFd);
  fs.closeSync(readFd);
  // The channel is still usable.
  await child.channel.send('still open');
  t.is((await child.reports.take('raw')).payload.toString(), 'still open');
  await stop(t, child);
  await assertNoFdLeak(t, before);
});
