// Frames a peer sends right behind its hello arrive in the same read as the hello. connectChannel() resolves
// only after that read has been processed, so the application attaches its listeners too late for them:
// the channel holds such frames for one turn of the event loop. The peer here is a raw socket writing
// HELLO, DATA (and then its end) in one write, the worst case.
import test from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connectChannel } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';

function frame(type, payload) {
  const header = Buffer.alloc(16);
  header.write('PN', 0, 'latin1');
  header[2] = 1;
  header[3] = type;
  header.writeUInt32BE(payload.length, 8);
  return Buffer.concat([header, payload]);
}

const HELLO = frame(0x01, Buffer.from(JSON.stringify({ protocol: 1, pid: process.pid })));

function within(promise, what, ms = 10_000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A raw peer on a fresh socket path that writes `bytes` as soon as a client connects, then maybe ends. */
async function rawPeer(t, bytes, { end }) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-after-hello-'));
  const socketPath = path.join(directory, 'peer.sock');
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('data', () => {}); // the client's hello
    socket.on('close', () => sockets.delete(socket));
    if (end) socket.end(bytes);
    else socket.write(bytes);
  });
  await new Promise((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}

test.serial(
  'a message sent right behind the hello reaches a listener attached after await connectChannel()',
  async (t) => {
    const before = openFdCount();
    const peer = await rawPeer(
      t,
      Buffer.concat([HELLO, frame(0x02, Buffer.from('first')), frame(0x02, Buffer.from('second'))]),
      { end: false },
    );
    const channel = await within(connectChannel(peer.socketPath), 'the channel');
    const received = [];
    const both = new Promise((resolve) => {
      channel.on('message', (message) => {
        received.push(message.payload.toString());
        if (received.length === 2) resolve();
      });
    });
    await within(both, 'both messages');
    t.deepEqual(received, ['first', 'second']);
    channel.destroy();
    await peer.close();
    await assertNoFdLeak(t, before);
  },
);

test.serial('frames held behind the hello come before the end of the channel', async (t) => {
  const before = openFdCount();
  const peer = await rawPeer(t, Buffer.concat([HELLO, frame(0x02, Buffer.from('last words'))]), { end: true });
  const channel = await within(connectChannel(peer.socketPath), 'the channel');
  const events = [];
  channel.on('message', (message) => events.push(`message ${message.payload}`));
  await within(
    new Promise((resolve) => channel.once('close', (error) => resolve(events.push(`close ${error?.code ?? 'clean'}`)))),
    'the close',
  );
  t.deepEqual(events, ['message last words', 'close clean']);
  await peer.close();
  await assertNoFdLeak(t, before);
});
