// Interop at the descriptor level: Python's socket.send_fds / recv_fds against the native endpoint (no
// framing), and a minimal Python channel peer (frame header, HELLO, DATA) against a Node Channel, descriptors
// going both ways, including a frame whose 300 descriptors need two sendmsg calls. The socket reaches Python
// as an inherited descriptor (fd 3), so no path is involved.
import test from 'ava';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { socketPairForChild } from '../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../helpers/fd-count.js';
import { findPython, startPythonPeer } from '../helpers/python-peer.js';
import { RawEndpoint, addon, within } from '../helpers/raw-endpoint.js';

const RAW_PEER = fileURLToPath(new URL('../fixtures/python-raw-fd-exchange.py', import.meta.url));
const CHANNEL_PEER = fileURLToPath(new URL('../fixtures/python-channel-fd-exchange.py', import.meta.url));

// socket.send_fds / recv_fds appeared in Python 3.9.
const python = findPython('import socket; socket.send_fds');

/** Starts a Python fixture with `fd` as its descriptor 3. */
function startPeer(t, script, fd) {
  if (python === undefined) throw new Error('python3 (3.9 or later) is required for the interop tests');
  return startPythonPeer(t, python, [script, '3'], { stdio: ['ignore', 'pipe', 'pipe', fd] });
}
// On CI a missing Python is a failure, not a skip: the interop claim would go untested.
const pythonTest = python !== undefined || process.env.CI === 'true' ? test.serial : test.skip;

/** True when `fd` of this process has close-on-exec set (the octal `flags:` line of /proc/self/fdinfo). */
function isCloexec(fd) {
  const flags = /^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return (Number.parseInt(flags[1], 8) & 0o2000000) !== 0;
}

const hasFdinfo = fs.existsSync('/proc/self/fdinfo');

pythonTest(
  'raw: descriptors from socket.send_fds arrive on the native endpoint with their bytes, and recv_fds gets ours',
  async (t) => {
    const before = openFdCount();
    const [mine, theirs] = addon.socketPair('stream');
    const peer = startPeer(t, RAW_PEER, theirs);
    addon.close(theirs);
    const raw = new RawEndpoint(mine);
    t.teardown(() => raw.close());

    // Python -> Node: one sendmsg with 15 bytes and two pipe read ends.
    await peer.event('sent');
    await raw.until((r) => r.data.length >= 15 && r.reads.length >= 1, 'the bytes and descriptors from Python');
    t.is(raw.data.toString(), 'raw-from-python');
    t.is(raw.reads.length, 1);
    const [read] = raw.reads;
    t.like(read, { offset: 0, length: 15, truncated: false });
    t.is(read.fds.length, 2);
    const fds = raw.takeFds();
    if (hasFdinfo) t.true(fds.every(isCloexec), 'received descriptors are close-on-exec');
    // Python closed its copies right after sendmsg: the pipes still deliver what it wrote, in order.
    t.deepEqual(
      fds.map((fd) => fs.readFileSync(fd, 'latin1')),
      ['first pipe', 'second pipe'],
    );
    for (const fd of fds) addon.close(fd);

    // Node -> Python: one end of a socketpair, into which Python writes before closing its copy.
    const [readEnd, sentEnd] = addon.socketPair('stream');
    const reader = new RawEndpoint(readEnd);
    t.teardown(() => reader.close());
    await raw.write(Buffer.from('raw-from-node'), [sentEnd]);
    addon.close(sentEnd);
    t.deepEqual(await peer.event('received'), {
      event: 'received',
      data: 'raw-from-node',
      fdCount: 1,
      truncated: false,
    });
    // End of stream only comes once every copy of sentEnd is closed: Python closed the one it received.
    await reader.until((r) => r.status !== undefined, 'the end of the socket handed to Python');
    t.is(reader.status, 1);
    t.is(reader.data.toString(), 'written by python');

    t.deepEqual(await within(peer.closed, 'the Python peer to exit'), { code: 0, signal: null }, peer.stderr());
    await raw.until((r) => r.status !== undefined, 'the end of the channel socket');
    t.is(raw.status, 1);
    raw.close();
    reader.close();
    await assertNoFdLeak(t, before);
  },
);

pythonTest(
  'channel: a Python peer speaking the frame format exchanges messages with descriptors with a Channel both ways',
  async (t) => {
    const before = openFdCount();
    const { channel, childFd, closeChildFd } = socketPairForChild();
    const peer = startPeer(t, CHANNEL_PEER, childFd);
    closeChildFd();
    const warnings = [];
    channel.on('warning', (error) => warnings.push(error));
    const messages = [];
    const waiters = new Set();
    channel.on('message', (message) => {
      // Descriptors must be taken synchronously; read the pipes here, they hold everything already.
      const fds = message.takeFds();
      const contents = fds.map((fd) => {
        try {
          return { cloexec: hasFdinfo ? isCloexec(fd) : true, text: fs.readFileSync(fd, 'latin1') };
        } finally {
          addon.close(fd);
        }
      });
      messages.push({ payload: message.payload.toString(), contents });
      for (const waiter of [...waiters]) waiter();
    });
    const messageCount = (n, what) => {
      let check;
      return within(
        new Promise((resolve) => {
          check = () => messages.length >= n && resolve();
          waiters.add(check);
          check();
        }),
        `${what} (stderr: ${peer.stderr().trim() || 'empty'})`,
      ).finally(() => waiters.delete(check));
    };

    const hello = await within(channel.ready, "the Python peer's HELLO");
    t.like(hello, { protocol: 1, capabilities: [] });
    t.like((await peer.event('hello')).peer, { protocol: 1, pid: process.pid });

    // Python -> Node: a payload with one pipe, then an empty payload with two.
    await messageCount(2, 'the two messages from Python');
    t.deepEqual(messages.slice(0, 2), [
      { payload: 'python-data', contents: [{ cloexec: true, text: 'through the pipe' }] },
      {
        payload: '',
        contents: [
          { cloexec: true, text: 'empty 0' },
          { cloexec: true, text: 'empty 1' },
        ],
      },
    ]);

    // Node -> Python: one descriptor Python writes into.
    const [readEnd, sentEnd] = addon.socketPair('stream');
    const reader = new RawEndpoint(readEnd);
    t.teardown(() => reader.close());
    await channel.send('for-python', [sentEnd]);
    addon.close(sentEnd);
    t.like(await peer.event('used'), { payload: 'for-python', fdCount: 1 });
    await reader.until((r) => r.status !== undefined, 'the end of the socket handed to Python');
    t.is(reader.data.toString(), 'python was here');

    // 300 distinct sockets: more than one sendmsg carries, so the frame goes out in two chunks. Python reports
    // the inode of each descriptor in the order it attributed them.
    const many = [];
    while (many.length < 300) many.push(...addon.socketPair('stream'));
    const inodes = many.map((fd) => fs.fstatSync(fd).ino);
    try {
      await channel.send('many', many);
    } finally {
      for (const fd of many) addon.close(fd);
    }
    const used = await peer.event('used-many');
    t.like(used, { payload: 'many', fdCount: 300 });
    t.deepEqual(used.inodes, inodes);

    await messageCount(3, "Python's report");
    t.deepEqual(JSON.parse(messages[2].payload), { received: [1, 300] });
    // Python closed the socket after its report: a clean end.
    t.is(await within(channel.closed, 'the channel to close'), undefined);
    t.deepEqual(await within(peer.closed, 'the Python peer to exit'), { code: 0, signal: null }, peer.stderr());
    t.deepEqual(warnings, []);
    reader.close();
    await assertNoFdLeak(t, before);
  },
);
