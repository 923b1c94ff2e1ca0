// WorkerPool.spawnWorkers() and removeWorkers(), what `portunus ctl spawn-workers` and `remove-workers` call:
// workers started on request stay (min follows them up), workers removed drain without failing a request and
// are not respawned (min follows them down), and both stop at the pool's bounds.
import test from 'ava';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { runLoad, servePool, stopServing, waitFor } from '../../helpers/http-load.js';

test.serial('spawnWorkers(n) starts n workers now and keeps them; at max it starts fewer', async (t) => {
  const before = openFdCount();
  const serving = await servePool(t, 'worker-http.js', { min: 1, max: 3, idleTimeoutMs: 200 });
  const { pool } = serving;
  t.is(pool.spawnWorkers(1), 1);
  t.is(pool.min, 2);
  t.is(pool.spawnWorkers(5), 1, 'only one more fits under max 3');
  t.is(pool.min, 3);
  t.is(pool.spawnWorkers(1), 0);
  await waitFor(() => pool.workers.filter((w) => w.state === 'ready').length === 3, 'three ready workers');
  const load = await runLoad(serving.port, { total: 30, concurrency: 6 });
  t.is(load.failed, 0, load.errors.join('\n'));
  t.is(Object.keys(load.byWorker).length, 3, 'all three serve');
  // Idle far past idleTimeoutMs: none retires, since min rose with them.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  t.is(pool.workers.length, 3);
  t.is(pool.stats().exited, 0);
  await stopServing(serving);
  await assertNoFdLeak(t, before);
});

test.serial(
  'removeWorkers(n) drains n workers under load without a failed request; min follows, none respawns',
  async (t) => {
    const before = openFdCount();
    const serving = await servePool(t, 'worker-http.js', { min: 3, max: 3 });
    const { pool } = serving;
    await pool.start();
    await waitFor(() => pool.workers.filter((w) => w.state === 'ready').length === 3, 'three ready workers');
    let done = false;
    t.teardown(() => (done = true));
    const load = runLoad(serving.port, { until: () => done, concurrency: 6 });
    await waitFor(() => serving.dispatcher.stats().handedOff >= 20, 'load to run');
    t.is(pool.removeWorkers(2), 2);
    t.is(pool.min, 1);
    await waitFor(() => pool.workers.length === 1, 'two workers to exit');
    const handedOff = serving.dispatcher.stats().handedOff;
    await waitFor(() => serving.dispatcher.stats().handedOff >= handedOff + 20, 'load on the one left');
    done = true;
    const result = await load;
    t.is(result.failed, 0, result.errors.join('\n'));
    t.is(pool.workers.length, 1, 'no replacement was spawned');
    t.is(pool.stats().crashed, 0);
    t.is(pool.removeWorkers(5), 1, 'the last one may go too');
    t.is(pool.min, 0);
    await stopServing(serving);
    await assertNoFdLeak(t, before);
  },
);

test.serial('spawnWorkers() and removeWorkers() after close() throw ERR_PORTUNUS_POOL_CLOSED', async (t) => {
  const serving = await servePool(t, 'worker-http.js', { min: 1, max: 2 });
  await stopServing(serving);
  t.throws(() => serving.pool.spawnWorkers(1), { code: 'ERR_PORTUNUS_POOL_CLOSED' });
  t.throws(() => serving.pool.removeWorkers(1), { code: 'ERR_PORTUNUS_POOL_CLOSED' });
});
