// Unix stream listeners behind a pool: acceptAndDispatch() and serveListeners() in shared mode take
// `listen: { path }` (or a Unix net.Server), workers get Unix connections as net.Socket and serve them with
// the same adoptConnections(server), and the master alone unlinks the socket file when it closes.
// Traffic comes from curl --unix-socket, a real client in another process.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import { WorkerPool, acceptAndDispatch, offerListeners, serveListeners, takeListeners } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { socketDirectory } from '../../helpers/generations.js';
import { fixture, waitFor, within } from '../../helpers/http-load.js';

/** `count` requests over the Unix socket by one curl process, each on a connection of its own. */
function curlUnix(socketPath, count) {
  const urls = Array.from({ length: count }, (_, i) => `http://localhost/${i}`);
  const args = ['-sS', '--fail', '--no-keepalive', '-H', 'connection: close', '--max-time', '10'];
  args.push('--unix-socket', socketPath, '-w', '\n', ...urls);
  return new Promise((resolve, reject) => {
    execFile('curl', args, { timeout: 20_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`curl failed: ${stderr || error.message}`));
      else
        resolve(
          stdout
            .trim()
            .split('\n')
            .map((line) => JSON.parse(line)),
        );
    });
  });
}

function newPool(options = {}) {
  return new WorkerPool({ args: [fixture('worker-http.js')], min: 2, max: 2, pingIntervalMs: 0, ...options });
}

test.serial(
  'acceptAndDispatch() on a Unix path: curl through the dispatcher, 0600 file, unlinked at close',
  async (t) => {
    const before = openFdCount();
    const socketPath = path.join(socketDirectory(t), 'service', 'http.sock');
    const pool = newPool();
    t.teardown(() => pool.close());
    const dispatcher = await within(
      acceptAndDispatch({ listen: { path: socketPath }, pool }),
      'the dispatcher',
      20_000,
    );
    t.is(dispatcher.address(), socketPath);
    const file = fs.lstatSync(socketPath);
    t.true(file.isSocket());
    t.is(file.mode & 0o777, 0o600);
    t.is(fs.lstatSync(path.dirname(socketPath)).mode & 0o777, 0o700);
    const answers = await curlUnix(socketPath, 40);
    t.is(answers.length, 40);
    t.deepEqual(
      answers.map((a) => a.url),
      answers.map((_, i) => `/${i}`),
    );
    t.is(new Set(answers.map((a) => a.pid)).size, 2, 'both workers served');
    t.like(dispatcher.stats(), { accepted: 40, handedOff: 40, dropped: 0 });
    await dispatcher.close();
    t.false(fs.existsSync(socketPath), 'the master unlinked its socket file');
    await within(pool.close(), 'the pool to close', 15_000);
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'serveListeners() shared on a Unix path: workers accept from it; the path outlives no master',
  async (t) => {
    const before = openFdCount();
    const socketPath = path.join(socketDirectory(t), 'shared.sock');
    const pool = newPool();
    t.teardown(() => pool.close());
    const server = await within(
      serveListeners({ listen: { path: socketPath, writableAll: true }, pool }),
      'serve',
      20_000,
    );
    t.is(server.address(), socketPath);
    // writableAll is the user's choice: Node opens the file to everyone, portunus leaves it so.
    t.is(fs.lstatSync(socketPath).mode & 0o002, 0o002);
    await waitFor(() => server.stats().workers === 2, 'both workers to hold the listener');
    const answers = await curlUnix(socketPath, 40);
    t.is(answers.length, 40);
    t.like(server.stats(), { mode: 'shared', workers: 2, accepted: 0 });
    // A worker that drains closes its copy of the socket, never its name.
    await within(pool.restart(), 'a restart', 20_000);
    t.true(fs.existsSync(socketPath));
    await waitFor(() => server.stats().workers === 2, 'the new workers to hold the listener');
    t.is((await curlUnix(socketPath, 10)).length, 10);
    await server.close();
    t.false(fs.existsSync(socketPath), 'the master unlinked its socket file');
    await within(pool.close(), 'the pool to close', 15_000);
    await assertNoFdLeak(t, before);
  },
);

test.serial('a Unix net.Server handed to acceptAndDispatch keeps its name until the dispatcher closes', async (t) => {
  const before = openFdCount();
  const socketPath = path.join(socketDirectory(t), 'given.sock');
  const given = net.createServer();
  await new Promise((resolve) => given.listen(socketPath, resolve));
  const pool = newPool({ min: 1, max: 1 });
  t.teardown(() => pool.close());
  const dispatcher = await within(acceptAndDispatch({ listen: given, pool }), 'the dispatcher', 20_000);
  t.false(given.listening);
  t.true(fs.existsSync(socketPath), "closing Node's server did not take the name along");
  t.is((await curlUnix(socketPath, 5)).length, 5);
  await dispatcher.close();
  t.false(fs.existsSync(socketPath));
  await within(pool.close(), 'the pool to close', 15_000);
  await assertNoFdLeak(t, before);
});

test.serial('a path someone still listens on is refused with EADDRINUSE and left alone', async (t) => {
  const before = openFdCount();
  const socketPath = path.join(socketDirectory(t), 'busy.sock');
  const other = net.createServer();
  await new Promise((resolve) => other.listen(socketPath, resolve));
  const pool = newPool({ min: 1, max: 1 });
  t.teardown(() => pool.close());
  await t.throwsAsync(serveListeners({ listen: { path: socketPath }, pool }), { code: 'EADDRINUSE' });
  t.true(fs.existsSync(socketPath));
  await new Promise((resolve) => other.close(resolve));
  await assertNoFdLeak(t, before);
});

test.serial(
  'takeover of a Unix dispatcher: the old master closes its copy and leaves the name to the successor',
  async (t) => {
    const before = openFdCount();
    const directory = socketDirectory(t);
    const socketPath = path.join(directory, 'web.sock');
    const oldPool = newPool({ min: 1, max: 1 });
    const newPool_ = newPool({ min: 1, max: 1 });
    t.teardown(() => Promise.all([oldPool.close(), newPool_.close()]));
    const old = await within(
      acceptAndDispatch({ listen: { path: socketPath }, pool: oldPool }),
      'the old master',
      20_000,
    );
    const oldPids = new Set((await curlUnix(socketPath, 3)).map((a) => a.pid));
    const offering = await offerListeners({ path: path.join(directory, 'takeover.sock'), listeners: { web: old } });
    const taken = await within(takeListeners(offering.path), 'takeListeners()');
    const successor = await within(
      acceptAndDispatch({ listen: { fd: taken.takeFd('web') }, pool: newPool_ }),
      'the successor',
      20_000,
    );
    const handedOver = offering.handedOver();
    await within(taken.ready(), 'ready()');
    await within(handedOver, 'the handover');
    await old.close();
    t.true(fs.existsSync(socketPath), 'the old master left the socket file to its successor');
    const answers = await curlUnix(socketPath, 5);
    t.false(
      answers.some((a) => oldPids.has(a.pid)),
      'the successor serves the name now',
    );
    await successor.close();
    await within(oldPool.close(), 'the old pool to close', 15_000);
    await within(newPool_.close(), 'the new pool to close', 15_000);
    await assertNoFdLeak(t, before);
  },
);
