// keepOpen on a listener: after the handoff both processes accept from the same listening socket. Which
// process the kernel wakes for a given connection is not specified, so the test only checks that every
// connection is served by one of them, and that once the sender stops accepting, the child takes them all.
import test from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { distributeTransport } from '../../../dist/index.js';
import { describeFd } from '../../../dist/fd.js';
import { BACKENDS, collector, listening, startPeer, within } from '../../helpers/backends.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';

const SERVE = 'transport-adopt-and-serve';

/** Connects and resolves with the greeting line of whichever process accepted. */
async function greeting(connectTo) {
  const client = net.connect(connectTo);
  client.on('error', () => {});
  const line = (await collector(client).until('\n', 'a greeting')).toString();
  client.destroy();
  return line;
}

/** Serves `server` here too: each connection is greeted with "parent\n" and closed. */
function greetAsParent(server) {
  server.on('connection', (socket) => {
    socket.on('error', () => {});
    socket.end('parent\n');
  });
}

async function assertSharedThenChildOnly(t, peer, server, connectTo) {
  greetAsParent(server);
  const handoff = await within(distributeTransport(peer.channel, server, { keepOpen: true }), 'the ACK');
  await peer.take('adopted', (report) => report.id === handoff.id);
  t.true(server.listening, 'keepOpen: the sender still listens');

  const childGreeting = `child ${peer.pid}\n`;
  const counts = { parent: 0, child: 0 };
  for (let i = 0; i < 20; i++) {
    const line = await greeting(connectTo);
    t.true(line === 'parent\n' || line === childGreeting, `served by one of the two: ${JSON.stringify(line)}`);
    counts[line === 'parent\n' ? 'parent' : 'child']++;
  }
  t.log(`20 connections while both accept: ${counts.parent} by the sender, ${counts.child} by the child`);

  await new Promise((resolve) => server.close(resolve));
  for (let i = 0; i < 3; i++)
    t.is(await greeting(connectTo), childGreeting, 'the child alone accepts once the sender stopped');
}

for (const backend of BACKENDS) {
  test.serial(
    `keepOpen: a TCP listener is served by both processes, then by the child alone (${backend})`,
    async (t) => {
      const before = openFdCount();
      const peer = await startPeer(t, backend, SERVE);
      const server = await listening('127.0.0.1');
      await assertSharedThenChildOnly(t, peer, server, { port: server.address().port, host: '127.0.0.1' });
      await peer.stop();
      await assertNoFdLeak(t, before);
    },
  );
}

test.serial('keepOpen: a Unix listener is served by both processes, then by the child alone (unix)', async (t) => {
  const before = openFdCount();
  const peer = await startPeer(t, 'unix', SERVE);
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-keep-open-'));
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  const socketPath = path.join(directory, 'shared.sock');
  const server = await listening({ path: socketPath });
  // The sender's close would unlink the path; keep a second name to reach the child's copy afterwards.
  const spare = path.join(directory, 'spare.sock');
  fs.linkSync(socketPath, spare);
  await assertSharedThenChildOnly(t, peer, server, { path: spare });
  await peer.stop();
  await assertNoFdLeak(t, before);
});

test.serial(
  'an adopted TCP listener keeps the backlog it had: Node listens again with 511 unless told (unix)',
  async (t) => {
    const before = openFdCount();
    const somaxconn = Number(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    // Not 511 (what Node uses by default) and within somaxconn, so that the kernel keeps it as given.
    const backlog = Math.min(somaxconn, 200);
    const peer = await startPeer(t, 'unix', SERVE);
    const server = net.createServer();
    await new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog }, resolve));
    t.is(describeFd(server._handle.fd).backlog, backlog);

    // keepOpen: the sender still holds the same listening socket, so it sees the child's listen() call.
    const handoff = await within(distributeTransport(peer.channel, server, { keepOpen: true }), 'the ACK');
    await peer.take('adopted', (report) => report.id === handoff.id);
    t.is(describeFd(server._handle.fd).backlog, backlog, 'the child listened with the same backlog');

    await new Promise((resolve) => server.close(resolve));
    await peer.stop();
    await assertNoFdLeak(t, before);
  },
);
