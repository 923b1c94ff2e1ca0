// Reads do not follow frames. The endpoint reads at most 64 KiB at a time, the kernel ends a read after the
// write that carried descriptors, and glues fd-less writes in front of it: a read may end inside a large
// frame and the next one run from there into the following frames, bringing the descriptors of a later one.
// The receiver starts reading only once the kernel holds as many of these writes as it takes.
import test from 'ava';
import fs from 'node:fs';
import { channelFromFd } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { addon, within } from '../../helpers/raw-endpoint.js';

test.serial(
  'large and small frames, with and without descriptors, queued before the first read: each gets its own',
  async (t) => {
    const before = openFdCount();
    const [a, b] = addon.socketPair('stream');
    const sender = channelFromFd(a);
    const plan = [
      { size: 100 * 1024, fds: 1 },
      { size: 10, fds: 0 },
      { size: 0, fds: 1 },
      { size: 70 * 1024, fds: 2 },
      { size: 1, fds: 0 },
      { size: 64 * 1024 - 16, fds: 3 },
      { size: 64 * 1024 - 15, fds: 1 },
      { size: 5, fds: 300 },
      { size: 3, fds: 0 },
    ].map(({ size, fds }, i) => {
      const sockets = [];
      while (sockets.length < fds) sockets.push(...addon.socketPair('stream'));
      if (sockets.length > fds) addon.close(sockets.pop());
      return { payload: Buffer.alloc(size, i + 1), fds: sockets, inodes: sockets.map((fd) => fs.fstatSync(fd).ino) };
    });
    // Sent while nobody reads: the kernel takes what fits in the socket buffer, the rest waits in the queue.
    const sent = Promise.all(plan.map((item) => sender.send(item.payload, item.fds)));
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));

    const receiver = channelFromFd(b);
    const received = [];
    await within(
      new Promise((resolve) => {
        receiver.on('message', (message) => {
          const fds = message.takeFds();
          received.push({ payload: message.payload, inodes: fds.map((fd) => fs.fstatSync(fd).ino) });
          for (const fd of fds) addon.close(fd);
          if (received.length === plan.length) resolve();
        });
      }),
      'every message',
    );
    await within(sent, 'every send');
    for (const item of plan) for (const fd of item.fds) addon.close(fd);
    for (const [i, item] of plan.entries()) {
      t.true(received[i].payload.equals(item.payload), `message ${i}: payload`);
      t.deepEqual(received[i].inodes, item.inodes, `message ${i}: descriptors`);
    }
    await sender.close();
    await receiver.close();
    await assertNoFdLeak(t, before);
  },
);
