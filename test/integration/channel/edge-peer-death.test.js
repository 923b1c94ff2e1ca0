// A peer that dies while frames are queued for it. Writing to its socket must give EPIPE (or the read side
// ECONNRESET), never a SIGPIPE: the native layer sends with MSG_NOSIGNAL. Node ignores SIGPIPE itself, which
// would hide a missing flag, so this file listens for SIGPIPE: a signal raised by sendmsg is then counted.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { channelPair, socketPairForChild } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { addon, within } from '../../helpers/raw-endpoint.js';

const PEER = fileURLToPath(new URL('../../fixtures/python-read-some-then-wait.py', import.meta.url));
const STOP_READING = fileURLToPath(new URL('../../fixtures/python-stop-reading.py', import.meta.url));
const python = ['python3', 'python'].find(
  (name) => spawnSync(name, ['-c', 'import socket'], { stdio: 'ignore' }).status === 0,
);
const pythonTest = python !== undefined || process.env.CI === 'true' ? test.serial : test.skip;

// Installed once and never removed: removing the last listener would restore SIGPIPE's default action (exit)
// for the rest of this process.
let sigpipes = 0;
process.on('SIGPIPE', () => sigpipes++);

/**
 * Resolves once every SIGPIPE raised so far has been counted: signals reach JavaScript in the order they
 * were raised, so when one we send ourselves arrives, any earlier one has been counted. Returns how many
 * arrived, ours not included.
 */
async function sigpipesSoFar() {
  const ours = within(new Promise((resolve) => process.once('SIGPIPE', resolve)), 'our own SIGPIPE');
  process.kill(process.pid, 'SIGPIPE');
  await ours;
  sigpipes--;
  return sigpipes;
}

test.serial('the native write to a closed peer returns -EPIPE and raises no SIGPIPE', async (t) => {
  const before = openFdCount();
  const start = await sigpipesSoFar();
  const [a, b] = addon.socketPair('stream');
  const endpoint = new addon.Endpoint(
    a,
    () => {},
    () => {},
  );
  addon.close(b);
  t.is(endpoint.write(Buffer.from('anyone?'), 0, 7), -constants.errno.EPIPE);
  const [c, d] = addon.socketPair('stream');
  t.is(endpoint.write(Buffer.from('with a descriptor'), 0, 17, Int32Array.of(c)), -constants.errno.EPIPE);
  t.is(await sigpipesSoFar(), start);
  endpoint.close();
  addon.close(c);
  addon.close(d);
  await assertNoFdLeak(t, before);
});

/** Queues `count` frames of 256 KiB, every 4th with a descriptor; returns their settlements and the fds. */
function flood(channel, count) {
  const fds = [];
  const settled = Array.from({ length: count }, (_, i) => {
    const attached = i % 4 === 0 ? addon.socketPair('stream') : [];
    fds.push(...attached);
    return channel.send(Buffer.alloc(256 * 1024, i), attached).then(
      () => 'sent',
      (error) => error.code,
    );
  });
  return { settled: Promise.all(settled), fds };
}

function checkEnd(t, error, results) {
  // A clean end is possible too: the read side may see the end of stream before any write fails.
  if (error !== undefined) t.true(['EPIPE', 'ECONNRESET'].includes(error.code), `closed with ${error.code}`);
  // What the kernel took before the peer died counts as sent; the rest failed, in order, with one code.
  const firstFailure = results.indexOf('ERR_PORTUNUS_CHANNEL_CLOSED');
  t.true(firstFailure >= 0, 'some frames could not be sent');
  t.true(results.slice(0, firstFailure).every((r) => r === 'sent'));
  t.true(results.slice(firstFailure).every((r) => r === 'ERR_PORTUNUS_CHANNEL_CLOSED'));
}

pythonTest(
  'a peer process killed with frames queued: the channel closes with EPIPE/ECONNRESET, every send settles, no SIGPIPE',
  async (t) => {
    const before = openFdCount();
    const start = await sigpipesSoFar();
    const { channel, childFd, closeChildFd } = socketPairForChild();
    const child = spawn(python, [PEER, '3'], { stdio: ['ignore', 'pipe', 'inherit', childFd] });
    closeChildFd();
    t.teardown(() => child.kill('SIGKILL'));
    const exited = new Promise((resolve) => child.once('close', (code, signal) => resolve(signal)));
    const read = within(
      new Promise((resolve) => readline.createInterface({ input: child.stdout }).once('line', resolve)),
      'the peer to read',
    );

    const { settled, fds } = flood(channel, 64);
    t.like(JSON.parse(await read), { event: 'read', bytes: 64 * 1024 });
    t.true(channel.queuedBytes > 0, 'frames are still queued when the peer dies');
    child.kill('SIGKILL');
    t.is(await within(exited, 'the peer to die'), 'SIGKILL');

    const error = await within(channel.closed, 'the channel to close');
    checkEnd(t, error, await within(settled, 'every send to settle'));
    t.is(await sigpipesSoFar(), start, 'no SIGPIPE');
    for (const fd of fds) addon.close(fd);
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'a peer channel destroyed with frames queued for it: the sender closes, every send settles, no SIGPIPE',
  async (t) => {
    const before = openFdCount();
    const start = await sigpipesSoFar();
    const [a, b] = channelPair();
    await within(a.ready, 'the hello');
    const { settled, fds } = flood(a, 64);
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    t.true(a.queuedBytes > 0);
    b.destroy();
    const error = await within(a.closed, 'the sender to close');
    checkEnd(t, error, await within(settled, 'every send to settle'));
    t.is(await sigpipesSoFar(), start, 'no SIGPIPE');
    for (const fd of fds) addon.close(fd);
    await assertNoFdLeak(t, before);
  },
);

pythonTest(
  'a peer that shuts down its reading side but stays connected: sends fail with EPIPE and the channel ends, no hang',
  async (t) => {
    const before = openFdCount();
    const start = await sigpipesSoFar();
    const { channel, childFd, closeChildFd } = socketPairForChild();
    const child = spawn(python, [STOP_READING, '3'], { stdio: ['ignore', 'pipe', 'inherit', childFd] });
    closeChildFd();
    t.teardown(() => child.kill('SIGKILL'));
    const exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
    const lines = readline.createInterface({ input: child.stdout });
    const stopped = within(new Promise((resolve) => lines.once('line', resolve)), 'the peer to stop reading');
    await within(channel.ready, "the peer's hello");
    t.like(JSON.parse(await stopped), { event: 'stopped-reading' });

    const sent = channel.send('nobody reads this').then(
      () => 'sent',
      (error) => error.code,
    );
    const error = await within(channel.closed, 'the channel to end');
    t.is(error?.code, 'EPIPE');
    t.is(await sent, 'ERR_PORTUNUS_CHANNEL_CLOSED');
    t.is(await within(exited, 'the peer to see the close'), 0);
    t.is(await sigpipesSoFar(), start, 'no SIGPIPE');
    await assertNoFdLeak(t, before);
  },
);
