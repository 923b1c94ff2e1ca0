// Listener mode 'reuseport': one SO_REUSEPORT listener per worker slot, each worker accepting from its own
// with the same adoptConnections(server). The master keeps every member, accepts itself from those no worker
// holds (a dead, draining or not yet ready worker's, an empty slot's) and dispatches what it accepts, so
// nothing the kernel queued on a member is reset. Linux only (the suite runs there).
import test from 'ava';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { fdBackend, useFdBackend } from '../../../dist/binding/index.js';
import { WorkerPool, serveListeners } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { fixture, nextEvent, request, runLoad, waitFor, within } from '../../helpers/http-load.js';

/** A pool of `script` workers behind a reuseport group on 127.0.0.1, port 0; both closed at teardown. */
async function serveReusePort(t, script, poolOptions = {}) {
  const pool = new WorkerPool({ args: [fixture(script)], pingIntervalMs: 0, drainTimeoutMs: 2000, ...poolOptions });
  const serving = { pool, server: undefined, port: undefined };
  t.teardown(() => stop(serving).catch(() => {}));
  serving.server = await within(
    serveListeners({ listen: { host: '127.0.0.1', port: 0 }, pool, mode: 'reuseport' }),
    'serveListeners()',
    20_000,
  );
  serving.server.on('error', (error) => t.log(`listener server error: ${error.message}`));
  serving.port = serving.server.address().port;
  return serving;
}

async function stop({ server, pool }) {
  try {
    await server?.close({ timeoutMs: 5000 });
  } finally {
    await within(pool.close(), 'the pool to close', 15_000);
  }
}

/** True once every live worker of the current generation holds a member. */
function allAdopted(serving) {
  return serving.server.stats().workers === serving.pool.available().length && serving.pool.available().length > 0;
}

test.serial(
  'each worker accepts from its own member; the master accepts nothing while all slots are filled',
  async (t) => {
    const before = openFdCount();
    const serving = await serveReusePort(t, 'worker-http.js', { min: 2, max: 2 });
    await waitFor(() => serving.server.stats().workers === 2, 'both workers to adopt a member');
    t.is(serving.server.listenerFds().length, 2);
    const result = await runLoad(serving.port, { total: 200, concurrency: 20 });
    t.deepEqual(result.errors, []);
    t.is(result.ok, 200);
    t.log(`spread over the workers: ${JSON.stringify(result.byWorker)}`);
    t.is(Object.keys(result.byWorker).length, 2, 'both members took connections');
    t.like(serving.server.stats(), { mode: 'reuseport', workers: 2, listeners: 2, masterServed: 0, accepted: 0 });
    await stop(serving);
    t.deepEqual(serving.server.listenerFds(), []);
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'an empty slot keeps its member, served by the master, and new connections are steered away from it',
  async (t) => {
    const before = openFdCount();
    const serving = await serveReusePort(t, 'worker-http.js', { min: 2, max: 3 });
    await waitFor(() => serving.server.stats().workers === 2, 'both workers to adopt a member');
    t.like(serving.server.stats(), { listeners: 3, masterServed: 1 });
    const result = await runLoad(serving.port, { total: 300, concurrency: 20 });
    t.deepEqual(result.errors, []);
    // Unsteered, the kernel would hash a third of them to the empty slot's member and the master would
    // accept and dispatch those.
    t.is(serving.server.stats().accepted, 0);
    await stop(serving);
    await assertNoFdLeak(t, before);
  },
);

/**
 * A new connection with one HTTP request: `connected` resolves once the handshake is done (the connection
 * sits in some member's accept queue), `answer` with the response's status and x-worker header.
 */
function queuedRequest(port) {
  const socket = net.connect({ host: '127.0.0.1', port });
  const connected = once(socket, 'connect');
  socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n'));
  const answer = new Promise((resolve, reject) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => (text += chunk));
    socket.on('error', reject);
    socket.on('end', () => resolve({ status: text.split(' ')[1], worker: /x-worker: (\d+)/i.exec(text)?.[1] }));
  });
  return { connected, answer };
}

/** Sends requests until one is answered as `wanted` says (at most 100). */
async function answeredBy(port, wanted, what) {
  for (let attempt = 0; attempt < 100; attempt++) if (wanted(await request(port))) return;
  throw new Error(`none of 100 requests was answered by ${what}`);
}

/** Resolves once `worker` misses a ping: its event loop is blocked. */
async function stalledLoop(worker) {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      await worker.channel.ping(500);
    } catch {
      return;
    }
  }
  throw new Error(`worker ${worker.id} still answers pings`);
}

test.serial(
  'connections queued on a stalled worker’s member are answered after it is SIGKILLed, not reset',
  async (t) => {
    const before = openFdCount();
    // A long backoff: no replacement comes during the test, so the master must accept the queue itself.
    const serving = await serveReusePort(t, 'worker-stall-on-request.js', { min: 2, max: 2, backoffInitialMs: 30_000 });
    const { pool, server } = serving;
    await waitFor(() => server.stats().workers === 2, 'both workers to adopt a member');
    // A keep-alive connection stays with the worker that accepted it: the second request stalls that one.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await request(serving.port, { agent });
    const stalled = pool.workers.find((worker) => String(worker.id) === first.worker);
    const stall = request(serving.port, { agent, path: '/stall', timeoutMs: 30_000 }).catch(() => 'reset');
    await stalledLoop(stalled);
    // The kernel hashes about half of these to the stalled worker's member, where they wait.
    const queued = Array.from({ length: 20 }, () => queuedRequest(serving.port));
    await within(Promise.all(queued.map((connection) => connection.connected)), 'the connections to be established');
    t.is(server.stats().accepted, 0, 'nothing accepted by the master while the worker holds its member');
    stalled.kill('SIGKILL');
    const results = await within(
      Promise.all(queued.map((connection) => connection.answer)),
      'the queued requests',
      15_000,
    );
    t.deepEqual(
      results.map((answer) => answer.status),
      Array(20).fill('200'),
    );
    t.true(server.stats().accepted > 0, 'the master accepted the dead worker’s queue');
    t.true(results.every((answer) => answer.worker !== String(stalled.id)));
    await stall;
    agent.destroy();
    await stop(serving);
    await assertNoFdLeak(t, before);
  },
);

test.serial('pool.restart() under continuous load in reuseport mode fails no request', async (t) => {
  const before = openFdCount();
  const serving = await serveReusePort(t, 'worker-http.js', { min: 2, max: 2 });
  const { pool, server } = serving;
  await waitFor(() => allAdopted(serving), 'both workers to adopt a member');
  let done = false;
  const load = runLoad(serving.port, { until: () => done, concurrency: 10, timeoutMs: 15_000 });
  await waitFor(() => server.stats().workers === 2, 'the load to start');
  await within(pool.restart(), 'the restart', 20_000);
  await waitFor(() => server.stats().shared >= 4 && allAdopted(serving), 'the new generation to adopt the members');
  // Keep the load on until the new generation answers.
  await answeredBy(serving.port, (answer) => answer.generation === String(pool.generation), 'the new generation');
  done = true;
  const result = await load;
  t.deepEqual(result.errors, []);
  const generations = new Set(result.answers.map((answer) => answer.generation));
  t.true(generations.has('0') && generations.has('1'), `answered by generations ${[...generations]}`);
  t.is(server.stats().listeners, 2, 'the same two members, now held by the new generation');
  await stop(serving);
  await assertNoFdLeak(t, before);
});

test.serial(
  'a worker SIGKILLed under continuous load fails no request it had not accepted; its replacement adopts its member',
  async (t) => {
    const before = openFdCount();
    const serving = await serveReusePort(t, 'worker-stall-on-request.js', { min: 2, max: 2 });
    const { pool, server } = serving;
    await waitFor(() => allAdopted(serving), 'both workers to adopt a member');
    const original = new Set(pool.workers);
    // Stall one worker before the load starts, so that when it dies it holds no request but the stalling one
    // (a request a worker has accepted dies with it, in any listener mode): everything the kernel hashes to
    // its member from then on waits in the member's queue.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await request(serving.port, { agent });
    const victim = pool.workers.find((worker) => String(worker.id) === first.worker);
    const stall = request(serving.port, { agent, path: '/stall', timeoutMs: 30_000 }).catch(() => 'reset');
    await stalledLoop(victim);
    let done = false;
    const load = runLoad(serving.port, { until: () => done, concurrency: 10, timeoutMs: 15_000 });
    // Let the load run: lanes whose connections the kernel hashes to the stalled member pile up there.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const replaced = nextEvent(server, 'share', 'the replacement to adopt the member', 15_000, (w) => !original.has(w));
    victim.kill('SIGKILL');
    const [replacement] = await replaced;
    await answeredBy(serving.port, (answer) => answer.worker === String(replacement.id), 'the replacement');
    done = true;
    const result = await load;
    t.deepEqual(result.errors, []);
    t.true(result.ok > 0);
    t.true(server.stats().accepted > 0, 'the master served the dead worker’s member until the replacement came');
    t.like(server.stats(), { workers: 2, masterServed: 0 });
    await stall;
    agent.destroy();
    await stop(serving);
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'where the platform has no balanced SO_REUSEPORT: a clear error, or shared mode when asked for',
  async (t) => {
    const before = openFdCount();
    // The backend of a platform without it (Linux has it, so the test removes it).
    const previous = useFdBackend({ ...fdBackend, reusePort: false });
    try {
      const pool = new WorkerPool({ args: [fixture('worker-http.js')], min: 1, max: 1, pingIntervalMs: 0 });
      t.throws(() => serveListeners({ listen: { host: '127.0.0.1', port: 0 }, pool, mode: 'reuseport' }), {
        code: 'ERR_PORTUNUS_UNSUPPORTED',
        message: /'reuseport' needs SO_REUSEPORT .*fallback: 'shared'/,
      });
      const serving = { pool, server: undefined };
      t.teardown(() => stop(serving).catch(() => {}));
      serving.server = await within(
        serveListeners({ listen: { host: '127.0.0.1', port: 0 }, pool, mode: 'reuseport', fallback: 'shared' }),
        'serveListeners()',
        20_000,
      );
      t.is(serving.server.stats().mode, 'shared');
      await waitFor(() => serving.server.stats().workers === 1, 'the worker to hold the listener');
      t.is((await request(serving.server.address().port)).status, 200);
      await stop(serving);
    } finally {
      useFdBackend(previous);
    }
    await assertNoFdLeak(t, before);
  },
);

test.serial('reuseport mode opens its own sockets: a net.Server to take over is refused', async (t) => {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const pool = new WorkerPool({ args: [fixture('worker-http.js')], min: 1, max: 1 });
  t.throws(() => serveListeners({ listen: server, pool, mode: 'reuseport' }), {
    code: 'ERR_PORTUNUS_UNSUPPORTED',
    message: /give listen options/,
  });
  t.throws(() => serveListeners({ listen: { port: 0 }, pool, mode: 'reuseport', fallback: 'dispatch' }), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /options\.fallback/,
  });
});

test.serial(
  'scaling down keeps the retired worker’s member open, served by the master, and loses nothing',
  async (t) => {
    const before = openFdCount();
    const serving = await serveReusePort(t, 'worker-http.js', { min: 1, max: 2, highWater: 1, idleTimeoutMs: 300 });
    const { pool, server } = serving;
    const grown = nextEvent(pool, 'scale', 'the pool to grow', 15_000, (event) => event.direction === 'up');
    let done = false;
    const load = runLoad(serving.port, { until: () => done, concurrency: 10, timeoutMs: 15_000 });
    await grown;
    await waitFor(() => server.stats().workers === 2, 'the second worker to adopt the free member');
    const shrunk = nextEvent(
      pool,
      'scale',
      'the pool to retire a worker',
      15_000,
      (event) => event.direction === 'down',
    );
    done = true;
    t.deepEqual((await load).errors, []);
    await shrunk;
    await waitFor(() => server.stats().workers === 1, 'the retired worker’s member to be taken back');
    t.like(server.stats(), { listeners: 2, masterServed: 1 });
    const after = await runLoad(serving.port, { total: 100, concurrency: 10 });
    t.deepEqual(after.errors, []);
    await stop(serving);
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'a port that cannot be had, or a pool that cannot start, leaves no socket and no worker behind',
  async (t) => {
    const before = openFdCount();
    const taken = net.createServer();
    await new Promise((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const pool = new WorkerPool({ args: [fixture('worker-http.js')], min: 1, max: 2, pingIntervalMs: 0 });
    const busy = serveListeners({ listen: { host: '127.0.0.1', port: taken.address().port }, pool, mode: 'reuseport' });
    await t.throwsAsync(within(busy, 'serveListeners() on a taken port'), { code: 'EADDRINUSE' });
    t.is(pool.workers.length, 0, 'no worker was started');
    await new Promise((resolve) => taken.close(resolve));
    const failing = new WorkerPool({
      args: [fixture('worker-crash-on-start.js')],
      min: 1,
      max: 2,
      pingIntervalMs: 0,
      stdio: 'ignore',
    });
    await t.throwsAsync(
      within(serveListeners({ listen: { host: '127.0.0.1', port: 0 }, pool: failing, mode: 'reuseport' }), 'the start'),
      { code: 'ERR_PORTUNUS_WORKER_EXITED' },
    );
    t.true(failing.isClosed, 'the pool was closed again');
    await assertNoFdLeak(t, before);
  },
);
