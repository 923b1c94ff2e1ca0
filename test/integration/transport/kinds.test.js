// Every transport kind, handed from this process to a child over both backends: the child adopts it and
// serves it, and the test checks that it works from the outside (bytes both ways on connections, new
// connections on listeners, datagrams to the original port). Kinds the node-ipc backend cannot carry are
// refused with ERR_PORTUNUS_UNSUPPORTED before anything is sent, and the transport stays usable here.
import test from 'ava';
import dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { distributeTransport } from '../../../dist/index.js';
import { fdBackend } from '../../../dist/binding/index.js';
import {
  BACKENDS,
  collector,
  closedSocket,
  connectedPair,
  listening,
  startPeer,
  within,
} from '../../helpers/backends.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';

const SERVE = 'transport-adopt-and-serve';

const hasIpv6 = await new Promise((resolve) => {
  const server = net.createServer();
  server.once('error', () => resolve(false));
  server.listen(0, '::1', () => server.close(() => resolve(true)));
});

function temporaryDirectory(t) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-kinds-'));
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/** Asserts that `promise` rejects with ERR_PORTUNUS_UNSUPPORTED before the event loop turns once. */
async function assertUnsupportedAtOnce(t, promise) {
  let settled = false;
  promise.then(
    () => {},
    () => {
      settled = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  t.true(settled, 'the refusal did not wait for any I/O');
  const error = await t.throwsAsync(promise);
  t.is(error.code, 'ERR_PORTUNUS_UNSUPPORTED');
}

/** The client and the socket this process accepted still talk to each other, both ways. */
async function assertStillServedHere(t, client, accepted) {
  const atClient = collector(client);
  const atSender = collector(accepted);
  accepted.write("still the sender's");
  client.write('to the sender');
  t.is((await atClient.until("still the sender's")).toString(), "still the sender's");
  t.is((await atSender.until('to the sender')).toString(), 'to the sender');
}

/** Hands a connected socket over and checks it is served by the child, with its addresses. */
async function handConnection(t, peer, server, kind) {
  const { client, accepted } = await connectedPair(server);
  const handoff = await within(
    distributeTransport(peer.channel, accepted, { metadata: { mode: 'echo', note: 'ü' } }),
    'the ACK',
  );
  t.is(handoff.kind, kind);
  const adopted = await peer.take('adopted', (report) => report.id === handoff.id);
  t.is(adopted.kind, kind);
  t.deepEqual(adopted.metadata, { mode: 'echo', note: 'ü' });
  t.is(adopted.preRead, '');
  await closedSocket(accepted);
  if (kind === 'tcp') {
    t.is(adopted.fields.localPort, server.address().port);
    t.is(adopted.fields.remotePort, client.localPort);
    t.is(adopted.fields.remoteAddress, client.localAddress);
  } else if (peer.backend === 'unix') {
    t.is(adopted.fields.family, 'unix');
    t.is(adopted.fields.localPath, server.address());
  }
  const atClient = collector(client);
  client.write('ping from the client');
  t.is((await atClient.until('ping from the client')).toString(), 'ping from the client');
  client.end();
  await atClient.ended;
  client.destroy();
}

for (const backend of BACKENDS) {
  test.serial(`connected TCP over IPv4 is served by the child (${backend})`, async (t) => {
    const before = openFdCount();
    const peer = await startPeer(t, backend, SERVE);
    const server = await listening('127.0.0.1', { pauseOnConnect: true });
    await handConnection(t, peer, server, 'tcp');
    server.close();
    await peer.stop();
    await assertNoFdLeak(t, before);
  });

  (hasIpv6 ? test.serial : test.skip)(`connected TCP over IPv6 is served by the child (${backend})`, async (t) => {
    const before = openFdCount();
    const peer = await startPeer(t, backend, SERVE);
    const server = await listening('::1', { pauseOnConnect: true });
    await handConnection(t, peer, server, 'tcp');
    server.close();
    await peer.stop();
    await assertNoFdLeak(t, before);
  });

  test.serial(
    `connected Unix stream socket: served by the child, or refused at once on node-ipc and still usable (${backend})`,
    async (t) => {
      const before = openFdCount();
      const peer = await startPeer(t, backend, SERVE);
      const server = await listening({ path: path.join(temporaryDirectory(t), 'app.sock') }, { pauseOnConnect: true });
      if (backend === 'unix') {
        await handConnection(t, peer, server, 'unix');
      } else {
        const { client, accepted } = await connectedPair(server);
        await assertUnsupportedAtOnce(t, distributeTransport(peer.channel, accepted));
        await assertStillServedHere(t, client, accepted);
        client.destroy();
        accepted.destroy();
      }
      server.close();
      await peer.stop();
      await assertNoFdLeak(t, before);
    },
  );

  test.serial(`a TCP listener adopted by the child accepts new connections (${backend})`, async (t) => {
    const before = openFdCount();
    const peer = await startPeer(t, backend, SERVE);
    const server = await listening('127.0.0.1');
    const { port } = server.address();
    const handoff = await within(distributeTransport(peer.channel, server), 'the ACK');
    t.is(handoff.kind, 'tcp-server');
    t.false(server.listening, 'the sender closed its copy after the ACK');
    const adopted = await peer.take('adopted', (report) => report.id === handoff.id);
    t.is(adopted.fields.localPort, port);
    for (let i = 0; i < 3; i++) {
      const client = net.connect(port, '127.0.0.1');
      const atClient = collector(client);
      t.is((await atClient.until('\n')).toString(), `child ${peer.pid}\n`);
      client.write(`hello ${i}`);
      t.is((await atClient.until(`hello ${i}`)).toString(), `child ${peer.pid}\nhello ${i}`);
      client.destroy();
    }
    await peer.stop();
    await assertNoFdLeak(t, before);
  });

  test.serial(
    `Unix listener: adopted by the child and reachable by its path, or refused at once on node-ipc and still listening (${backend})`,
    async (t) => {
      const before = openFdCount();
      const peer = await startPeer(t, backend, SERVE);
      const socketPath = path.join(temporaryDirectory(t), 'listener.sock');
      const server = await listening({ path: socketPath });
      if (backend === 'unix') {
        const handoff = await within(distributeTransport(peer.channel, server), 'the ACK');
        t.is(handoff.kind, 'unix-server');
        t.false(server.listening);
        const adopted = await peer.take('adopted', (report) => report.id === handoff.id);
        t.is(adopted.fields.localPath, socketPath);
        const client = net.connect(socketPath);
        const atClient = collector(client);
        t.is((await atClient.until('\n')).toString(), `child ${peer.pid}\n`);
        client.write('over the path');
        await atClient.until('over the path');
        client.destroy();
      } else {
        await assertUnsupportedAtOnce(t, distributeTransport(peer.channel, server));
        t.true(server.listening);
        const { client, accepted } = await connectedPair(server);
        await assertStillServedHere(t, client, accepted);
        client.destroy();
        accepted.destroy();
        server.close();
      }
      await peer.stop();
      await assertNoFdLeak(t, before);
    },
  );

  test.serial(
    `a bound UDP socket adopted by the child answers datagrams sent to the original port (${backend})`,
    async (t) => {
      const before = openFdCount();
      const peer = await startPeer(t, backend, SERVE);
      const socket = dgram.createSocket('udp4');
      await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
      const { port } = socket.address();
      const closed = new Promise((resolve) => socket.once('close', resolve));
      const handoff = await within(distributeTransport(peer.channel, socket), 'the ACK');
      t.is(handoff.kind, 'udp');
      await within(closed, "the sender's UDP socket to close");
      const adopted = await peer.take('adopted', (report) => report.id === handoff.id);
      t.is(adopted.fields.localPort, port);
      const client = dgram.createSocket('udp4');
      await new Promise((resolve) => client.bind(0, '127.0.0.1', resolve));
      const replies = [];
      client.on('message', (message) => replies.push(message.toString()));
      // UDP may drop a datagram even on loopback: send until the answer comes.
      await within(
        new Promise((resolve) => {
          const timer = setInterval(() => {
            if (replies.length > 0) {
              clearInterval(timer);
              resolve();
            } else {
              client.send('ping', port, '127.0.0.1');
            }
          }, 50);
        }),
        'the child to answer a datagram',
      );
      t.is(replies[0], 'child:ping');
      await new Promise((resolve) => client.close(resolve));
      await peer.stop();
      await assertNoFdLeak(t, before);
    },
  );

  test.serial(
    `a raw descriptor (a pipe's write end) is written by the child, or refused at once on node-ipc (${backend})`,
    async (t) => {
      const before = openFdCount();
      const peer = await startPeer(t, backend, SERVE);
      const fifo = path.join(temporaryDirectory(t), 'pipe');
      execFileSync('mkfifo', [fifo]);
      const readFd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      const writeFd = fs.openSync(fifo, fs.constants.O_WRONLY);
      fs.writeSync(writeFd, 'parent\n');
      const reader = new net.Socket({ fd: readFd, readable: true, writable: false });
      const atReader = collector(reader);
      if (backend === 'unix') {
        const handoff = await within(
          distributeTransport(peer.channel, { fd: writeFd }, { metadata: { mode: 'write' } }),
          'the ACK',
        );
        t.is(handoff.kind, 'fd');
        await peer.take('adopted', (report) => report.id === handoff.id && report.kind === 'fd');
        // EOF comes only when every write end is closed: the child's after writing, ours after the ACK.
        await within(atReader.ended, 'EOF on the pipe');
        t.is(atReader.text, `parent\nchild ${peer.pid}\n`);
      } else {
        await assertUnsupportedAtOnce(t, distributeTransport(peer.channel, { fd: writeFd }));
        fs.writeSync(writeFd, 'still ours\n');
        fs.closeSync(writeFd);
        await within(atReader.ended, 'EOF on the pipe');
        t.is(atReader.text, 'parent\nstill ours\n');
      }
      reader.destroy();
      await peer.stop();
      await assertNoFdLeak(t, before);
    },
  );

  test.serial(
    `a raw descriptor (a stream socket) carries bytes both ways once the child adopted it, or is refused at once on node-ipc (${backend})`,
    async (t) => {
      const before = openFdCount();
      const peer = await startPeer(t, backend, SERVE);
      const [mine, theirs] = fdBackend.socketPair('stream');
      const local = new net.Socket({ fd: mine, readable: true, writable: true });
      const atLocal = collector(local);
      if (backend === 'unix') {
        const handoff = await within(
          distributeTransport(peer.channel, { fd: theirs }, { metadata: { mode: 'echo' } }),
          'the ACK',
        );
        t.is(handoff.kind, 'fd');
        const adopted = await peer.take('adopted', (report) => report.id === handoff.id);
        t.is(adopted.fields.family, 'unix');
        local.write('both ways');
        t.is((await atLocal.until('both ways')).toString(), 'both ways');
      } else {
        await assertUnsupportedAtOnce(t, distributeTransport(peer.channel, { fd: theirs }));
        fdBackend.close(theirs);
      }
      local.destroy();
      await peer.stop();
      await assertNoFdLeak(t, before);
    },
  );
}
