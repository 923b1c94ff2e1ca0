// A Unix listener handed off keeps its socket file: libuv unlinks the path of a server that bound it when
// that server closes, and the sender closes its copy after the ACK. Also: a listener adopted from a
// descriptor (Node reports no address for it) can be handed on again as 'unix-server'.
import test from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { adoptTransport, channelPair, distributeTransport } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';

function within(promise, what, ms = 10_000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Connects to `socketPath` and resolves once `server` accepted that connection. */
async function reachable(server, socketPath) {
  const accepted = new Promise((resolve) => server.once('connection', resolve));
  const client = net.connect(socketPath);
  await within(
    new Promise((resolve, reject) => client.once('connect', resolve).once('error', reject)),
    `a connection to ${socketPath}`,
  );
  const socket = await within(accepted, 'the adopted listener to accept');
  socket.destroy();
  client.destroy();
}

test.serial('a handed-off Unix listener stays reachable by its path, also when handed on again', async (t) => {
  const before = openFdCount();
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-unix-server-'));
  const socketPath = path.join(directory, 'app.sock');
  const original = net.createServer();
  await new Promise((resolve) => original.listen(socketPath, resolve));
  const [a, b] = channelPair();

  const first = adoptTransport(b);
  await within(distributeTransport(a, original), 'the first ACK');
  const adopted = await first;
  t.is(adopted.kind, 'unix-server');
  t.is(adopted.localPath, socketPath);
  t.true(fs.existsSync(socketPath), 'the sender closing its copy removed the socket file');
  await reachable(adopted.server, socketPath);

  // Node reports no address for a listener it did not bind; the kernel knows it is a Unix listener.
  const second = adoptTransport(a);
  await within(distributeTransport(b, adopted.server), 'the second ACK');
  const again = await second;
  t.is(again.kind, 'unix-server');
  await reachable(again.server, socketPath);
  t.deepEqual(fs.readdirSync(directory), ['app.sock'], 'no spare link left behind');

  await new Promise((resolve) => again.server.close(resolve));
  await Promise.all([a.close(), b.close()]);
  fs.rmSync(directory, { recursive: true, force: true });
  await assertNoFdLeak(t, before);
});
