// Listener mode 'shared': the master hands its one listening socket to every worker, which accepts from it
// with the same adoptConnections(server) it uses under the dispatcher. The socket stays the master's, so a
// worker's death or a restart resets nothing the kernel queued: it waits for the next worker.
import test from 'ava';
import { WorkerPool, serveListeners } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { fixture, nextEvent, request, runLoad, waitFor, within } from '../../helpers/http-load.js';

/** A pool of `script` workers behind a shared listener on 127.0.0.1, port 0; both closed at teardown. */
async function serveShared(t, script, poolOptions = {}) {
  const pool = new WorkerPool({ args: [fixture(script)], pingIntervalMs: 0, drainTimeoutMs: 2000, ...poolOptions });
  const serving = { pool, server: undefined, port: undefined };
  t.teardown(() => stop(serving).catch(() => {}));
  serving.server = await within(
    serveListeners({ listen: { host: '127.0.0.1', port: 0 }, pool }),
    'serveListeners()',
    20_000,
  );
  serving.port = serving.server.address().port;
  return serving;
}

async function stop({ server, pool }) {
  try {
    await server?.close();
  } finally {
    await within(pool.close(), 'the pool to close', 15_000);
  }
}

test.serial('every worker accepts from the shared listener and serves with adoptConnections()', async (t) => {
  const before = openFdCount();
  const serving = await serveShared(t, 'worker-http.js', { min: 2, max: 2 });
  await waitFor(() => serving.server.stats().workers === 2, 'both workers to hold the listener');
  const result = await runLoad(serving.port, { total: 200, concurrency: 20 });
  t.deepEqual(result.errors, []);
  t.is(result.ok, 200);
  t.log(`spread over the workers: ${JSON.stringify(result.byWorker)}`);
  t.like(serving.server.stats(), { mode: 'shared', workers: 2, shared: 2, failed: 0 });
  // The master accepted nothing itself: every answer came from a worker.
  t.is(
    Object.values(result.byWorker).reduce((a, b) => a + b, 0),
    200,
  );
  await stop(serving);
  await assertNoFdLeak(t, before);
});

test.serial('connections queued while the only worker is dead wait for its replacement: none is reset', async (t) => {
  const before = openFdCount();
  const serving = await serveShared(t, 'worker-http.js', { min: 1, max: 1, backoffInitialMs: 500 });
  const { pool } = serving;
  const [first] = pool.workers;
  await waitFor(() => serving.server.stats().workers === 1, 'the worker to hold the listener');
  const replaced = nextEvent(
    serving.server,
    'share',
    'the replacement to get the listener',
    15_000,
    (worker) => worker !== first,
  );
  first.kill('SIGKILL');
  await first.exited();
  // Nobody accepts now (the replacement waits out its backoff): these sit in the kernel's queue.
  const answers = Array.from({ length: 10 }, () => request(serving.port, { timeoutMs: 15_000 }));
  await replaced;
  const results = await within(Promise.all(answers), 'the queued requests', 15_000);
  t.deepEqual(
    results.map((answer) => answer.status),
    Array(10).fill(200),
  );
  t.true(results.every((answer) => answer.worker !== String(first.id)));
  await stop(serving);
  await assertNoFdLeak(t, before);
});

test.serial('pool.restart() under load in shared mode fails no request', async (t) => {
  const before = openFdCount();
  const serving = await serveShared(t, 'worker-http.js', { min: 2, max: 2 });
  const { pool } = serving;
  let restarted = false;
  const load = runLoad(serving.port, { until: () => restarted, concurrency: 10, timeoutMs: 15_000 });
  await new Promise((resolve) => setTimeout(resolve, 300));
  await within(pool.restart(), 'the restart', 20_000);
  // Keep the load on a little after the switch, so requests reach the new generation too.
  await waitFor(() => serving.server.stats().shared >= 4, 'the new generation to hold the listener');
  await new Promise((resolve) => setTimeout(resolve, 300));
  restarted = true;
  const result = await load;
  t.deepEqual(result.errors, []);
  t.true(result.ok > 0);
  const generations = new Set(result.answers.map((answer) => answer.generation));
  t.true(generations.has('1'), `answered by generations ${[...generations]}`);
  await stop(serving);
  await assertNoFdLeak(t, before);
});

test.serial('a pool with min 0 is refused: with no worker, nobody would accept', (t) => {
  const pool = new WorkerPool({ args: [fixture('worker-http.js')], min: 0, max: 1 });
  t.throws(() => serveListeners({ listen: { port: 0 }, pool }), { code: 'ERR_INVALID_ARG_VALUE', message: /min >= 1/ });
  const started = new WorkerPool({ args: [fixture('worker-http.js')], min: 1, max: 1 });
  t.throws(() => serveListeners({ listen: { port: 0 }, pool: started, mode: 'reuse' }), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /options\.mode/,
  });
});
