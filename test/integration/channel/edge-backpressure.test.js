// A peer that does not read for a while: the kernel's socket buffer fills, sendmsg says EAGAIN, and the
// channel queues. Once the peer reads, every send resolves, in order, and every message arrives whole with
// its own descriptors, including frames with descriptors (and one that needs two sendmsg calls) queued
// behind the EAGAIN.
import test from 'ava';
import { constants } from 'node:os';
import fs from 'node:fs';
import { channelFromFd } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { addon, within } from '../../helpers/raw-endpoint.js';

const turn = () => new Promise((resolve) => setImmediate(resolve));

test.serial('the native write reports EAGAIN as a negative errno when the socket buffer is full', async (t) => {
  const before = openFdCount();
  const [a, b] = addon.socketPair('stream');
  const endpoint = new addon.Endpoint(
    a,
    () => {},
    () => {},
  );
  const chunk = Buffer.alloc(64 * 1024);
  let result;
  let total = 0;
  // Bounded: a Unix socket buffer is a few hundred KiB by default; 1 GiB would mean EAGAIN never comes.
  while ((result = endpoint.write(chunk, 0, chunk.length)) > 0 && total < 1024 ** 3) total += result;
  t.is(result, -constants.errno.EAGAIN);
  t.true(total > 0);
  endpoint.close();
  addon.close(b);
  await assertNoFdLeak(t, before);
});

test.serial(
  'sends queued behind EAGAIN all resolve in order once the peer reads; nothing is lost, descriptors included',
  async (t) => {
    const before = openFdCount();
    const [a, b] = addon.socketPair('stream');
    const sender = channelFromFd(a);
    t.teardown(() => sender.destroy());
    let drains = 0;
    sender.on('drain', () => drains++);

    // 48 messages of up to 256 KiB (12 MiB, far more than a socket buffer). Every 6th carries one socket of
    // its own, message 20 carries 300 (two sendmsg calls), message 30 is empty with a descriptor.
    const plan = Array.from({ length: 48 }, (_, i) => {
      const size = i === 30 ? 0 : 4 + ((i * 7919) % (256 * 1024));
      const payload = Buffer.alloc(size, i);
      if (size > 0) payload.writeUInt32BE(i, 0);
      let fds = [];
      if (i % 6 === 0 || i === 30) fds = [addon.socketPair('stream')];
      if (i === 20) fds = Array.from({ length: 150 }, () => addon.socketPair('stream'));
      const flat = fds.flat();
      return { payload, fds: flat, inodes: flat.map((fd) => fs.fstatSync(fd).ino) };
    });
    const resolved = [];
    const sends = plan.map((item, i) => sender.send(item.payload, item.fds).then(() => resolved.push(i)));

    // Give the queue a few turns of the loop: with nobody reading, the kernel takes a few hundred KiB and
    // refuses the rest.
    for (let i = 0; i < 5; i++) await turn();
    t.true(sender.queuedBytes > 0, 'the queue is waiting for the socket');
    t.true(sender.writableNeedDrain);
    t.true(resolved.length < plan.length);
    t.deepEqual(
      resolved,
      Array.from({ length: resolved.length }, (_, i) => i),
    );

    // The peer starts reading.
    const receiver = channelFromFd(b);
    t.teardown(() => receiver.destroy());
    const received = [];
    const all = within(
      new Promise((resolve) => {
        receiver.on('message', (message) => {
          const fds = message.takeFds();
          received.push({ payload: message.payload, inodes: fds.map((fd) => fs.fstatSync(fd).ino) });
          for (const fd of fds) addon.close(fd);
          if (received.length === plan.length) resolve();
        });
      }),
      'every message',
      30_000,
    );
    await within(Promise.all(sends), 'every send to resolve', 30_000);
    await all;
    t.deepEqual(
      resolved,
      plan.map((_, i) => i),
    );
    t.true(drains >= 1);
    t.is(sender.queuedBytes, 0);
    for (const [i, item] of plan.entries()) {
      t.true(received[i].payload.equals(item.payload), `message ${i} arrived whole and in place`);
      t.deepEqual(received[i].inodes, item.inodes, `message ${i} got its own descriptors`);
    }
    for (const item of plan) for (const fd of item.fds) addon.close(fd);
    await sender.close();
    await receiver.close();
    await assertNoFdLeak(t, before);
  },
);
