// A channel runs on a connected Unix stream socket only. On a seqpacket or datagram socket every read would
// be one message: a frame larger than a read loses its tail (MSG_TRUNC) and the channel would wait for it
// forever. channelFromFd() refuses such descriptors up front, and leaves them open: the caller still owns them.
import test from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { channelFromFd } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { addon } from '../../helpers/raw-endpoint.js';

function expectRefused(t, fd, shown) {
  const error = t.throws(() => channelFromFd(fd));
  t.is(error.code, 'ERR_INVALID_ARG_VALUE');
  t.true(error.message.includes(shown), error.message);
  // Still open, still the caller's.
  t.notThrows(() => fs.fstatSync(fd));
}

for (const type of ['seqpacket', 'dgram']) {
  test.serial(`a Unix ${type} socket is refused with ERR_INVALID_ARG_VALUE and left open`, async (t) => {
    const before = openFdCount();
    const [a, b] = addon.socketPair(type);
    expectRefused(t, a, `unix-${type}`);
    addon.close(a);
    addon.close(b);
    await assertNoFdLeak(t, before);
  });
}

test.serial('a listening Unix socket is refused', async (t) => {
  const before = openFdCount();
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-edge-'));
  const server = net.createServer();
  await new Promise((resolve) => server.listen(path.join(directory, 'listener.sock'), resolve));
  expectRefused(t, server._handle.fd, "listening 'unix-stream'");
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(directory, { recursive: true, force: true });
  await assertNoFdLeak(t, before);
});

test.serial('a TCP socket and a regular file are refused', async (t) => {
  const before = openFdCount();
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  expectRefused(t, server._handle.fd, 'tcp');
  await new Promise((resolve) => server.close(resolve));
  const file = fs.openSync(process.execPath, 'r');
  expectRefused(t, file, 'file');
  fs.closeSync(file);
  await assertNoFdLeak(t, before);
});
