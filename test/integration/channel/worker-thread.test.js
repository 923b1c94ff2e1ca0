// The addon in a node:worker_threads Worker: its endpoint runs on the worker's own event loop, a
// descriptor sent by the main thread is usable there, and the worker's channel is released when the
// worker goes away, whether it exits by itself or is terminated with the channel open (the addon's
// environment cleanup hook). The descriptor count is process-wide, so it covers the worker's descriptors.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { socketPairForChild } from '../../../dist/index.js';
import { spawnFixture } from '../../helpers/spawn-fixture.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { openFifo } from '../../helpers/fifo.js';
import { Reports } from '../../helpers/reports.js';
import { once, within } from '../../helpers/within.js';

const FIXTURE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'fixtures',
  'worker-read-received-pipe.js',
);

/**
 * Starts the fixture in a worker with the other end of a fresh channel. The worker owns that end from
 * the moment it starts; it is terminated at teardown if a test left it running.
 */
function startWorker(t, { announce = false } = {}) {
  const { channel, childFd } = socketPairForChild();
  const worker = new Worker(FIXTURE, { workerData: { fd: childFd, announce } });
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  const errors = [];
  worker.on('error', (error) => errors.push(error));
  channel.on('error', () => {});
  const reports = new Reports(channel);
  t.teardown(async () => {
    channel.destroy();
    await worker.terminate();
  });
  return { channel, worker, exited, errors, reports };
}

test.serial('a worker thread receives a pipe over a channel, reads it and reports back', async (t) => {
  const before = openFdCount();
  const { channel, exited, errors, reports } = startWorker(t);
  await within(channel.ready, "the worker's hello");
  const { readFd, writeFd } = await openFifo();
  try {
    await within(channel.send('read this', [readFd]), 'the send');
  } finally {
    fs.closeSync(readFd);
  }
  fs.writeSync(writeFd, 'from the main thread');
  fs.closeSync(writeFd);
  t.is((await reports.take('read')).text, 'from the main thread');
  await within(channel.close(), 'the channel to close');
  // The worker's loop has nothing left once its channel closed: it ends on its own, cleanly.
  t.is(await within(exited, 'the worker to exit'), 0);
  t.deepEqual(errors, []);
  await assertNoFdLeak(t, before);
});

test.serial('terminating a worker with an open channel closes its end and does not crash the process', async (t) => {
  const before = openFdCount();
  const { channel, worker, exited, errors, reports } = startWorker(t, { announce: true });
  await reports.take('worker-up');
  const closed = once(channel, 'close', "the main thread's end to close");
  await within(worker.terminate(), 'the worker to terminate');
  t.is(await within(exited, 'the worker exit'), 1);
  // The cleanup hook closed the worker's descriptor: this end sees the end of the stream.
  const error = await closed;
  t.true(error === undefined || ['ECONNRESET', 'EPIPE'].includes(error.code), `close error: ${error}`);
  t.deepEqual(errors, []);
  await assertNoFdLeak(t, before);
});

test.serial('terminating a worker in the middle of a stream of descriptors leaks none of them', async (t) => {
  const before = openFdCount();
  const { channel, worker, exited, reports } = startWorker(t, { announce: true });
  await reports.take('worker-up');
  const { readFd, writeFd } = await openFifo();
  // Frames keep arriving (with a descriptor each) while the worker is torn down.
  const sends = [];
  for (let i = 0; i < 200; i++) sends.push(channel.send(`pipe ${i}`, [readFd]).catch((error) => error));
  const terminated = worker.terminate();
  await within(terminated, 'the worker to terminate');
  await within(exited, 'the worker exit');
  for (const result of await within(Promise.all(sends), 'every send to settle')) {
    if (result !== undefined) t.is(result.code, 'ERR_PORTUNUS_CHANNEL_CLOSED');
  }
  channel.destroy();
  fs.closeSync(readFd);
  fs.closeSync(writeFd);
  t.pass();
  await assertNoFdLeak(t, before);
});

test.serial(
  'a worker that alone loaded the addon is terminated with its channel open: the process lives on and exits 0',
  async (t) => {
    const before = openFdCount();
    const { channel, exited, reports } = spawnFixture(t, 'terminate-worker-holding-channel');
    await reports.take('worker-up');
    const { readFd, writeFd } = await openFifo();
    // Frames with descriptors keep coming while the worker is torn down.
    const sends = [];
    for (let i = 0; i < 200 && !channel.isClosed; i++) {
      sends.push(channel.send(`pipe ${i}`, [readFd]).catch((error) => error));
      await new Promise((resolve) => setImmediate(resolve));
    }
    t.deepEqual(await within(exited, 'the child to exit'), { code: 0, signal: null });
    await within(channel.closed, 'the channel to close');
    for (const result of await within(Promise.all(sends), 'every send to settle')) {
      if (result !== undefined) t.is(result.code, 'ERR_PORTUNUS_CHANNEL_CLOSED');
    }
    fs.closeSync(readFd);
    fs.closeSync(writeFd);
    await assertNoFdLeak(t, before);
  },
);
