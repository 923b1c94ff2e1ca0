// The pool follows demand: more workers when concurrency passes highWater per worker (up to max), fewer
// once they are idle (down to min), and with min 0 the first connection starts a worker and is served.
import test from 'ava';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { request, runLoad, servePool, stopServing, waitFor } from '../../helpers/http-load.js';

const activeWorkers = (pool) =>
  pool.workers.filter((worker) => worker.state === 'starting' || worker.state === 'ready').length;

test.serial('concurrency past highWater scales up to max; idle workers retire down to min', async (t) => {
  const before = openFdCount();
  const serving = await servePool(t, 'worker-hold-requests.js', {
    min: 1,
    max: 3,
    highWater: 2,
    idleTimeoutMs: 1500,
    env: { WORKER_HOLD_MS: '300' },
  });
  const { pool } = serving;
  const scales = [];
  pool.on('scale', (event) => scales.push(event));
  t.is(activeWorkers(pool), 1);

  // 12 requests held 300 ms each, 12 at a time: far more than 2 per worker. idleTimeoutMs is well above the
  // longest gap a busy worker sees even on a starved machine, so no worker retires (and is respawned) mid-run.
  const result = await runLoad(serving.port, { total: 72, concurrency: 12, timeoutMs: 20_000 });
  t.deepEqual(result.errors, []);
  t.is(result.ok, 72);
  const ups = scales.filter((event) => event.direction === 'up');
  t.true(ups.length >= 1, JSON.stringify(scales));
  t.true(ups.every((event) => event.workers <= 3));
  t.true(
    ups.some((event) => event.workers === 3),
    'grew to max',
  );
  t.true(pool.stats().spawned <= 3, `spawned ${pool.stats().spawned}`);
  t.true(Object.keys(result.byWorker).length >= 2, `answered by ${JSON.stringify(result.byWorker)}`);

  // Idle now: every worker above min retires.
  await waitFor(() => activeWorkers(pool) === 1 && pool.workers.length === 1, 'the pool to shrink back to min', 15_000);
  const downs = scales.filter((event) => event.direction === 'down');
  t.is(downs.length, ups.length, JSON.stringify(scales));
  t.true(downs.every((event) => event.reason === 'idle'));
  t.is(pool.stats().crashed, 0);
  // The one left still serves.
  const answer = await request(serving.port);
  t.is(answer.status, 200);
  await stopServing(serving);
  await assertNoFdLeak(t, before);
});

test.serial('min 0: no worker until the first connection, which starts one and is served', async (t) => {
  const before = openFdCount();
  const serving = await servePool(t, 'worker-http.js', { min: 0, max: 2, idleTimeoutMs: 500 });
  const { pool, dispatcher } = serving;
  const scales = [];
  pool.on('scale', (event) => scales.push(event));
  t.is(pool.workers.length, 0);
  const answer = await request(serving.port, { timeoutMs: 15_000 });
  t.is(answer.status, 200);
  t.is(answer.worker, '1');
  t.is(dispatcher.stats().dropped, 0);
  t.is(scales[0]?.direction, 'up');
  t.is(scales[0]?.reason, 'connections waiting');
  // Idle again: back to no worker at all, and the next connection is served just the same.
  await waitFor(() => pool.workers.length === 0, 'the pool to shrink back to 0', 15_000);
  const again = await request(serving.port, { timeoutMs: 15_000 });
  t.is(again.status, 200);
  t.is(again.worker, '2');
  await stopServing(serving);
  await assertNoFdLeak(t, before);
});
