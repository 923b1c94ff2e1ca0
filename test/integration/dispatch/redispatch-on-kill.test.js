// A worker SIGKILLed while handoffs to it are in flight costs no connection: the master still holds every
// descriptor the worker had not acknowledged and sends each to another worker.
import test from 'ava';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { runLoad, servePool, stopServing, waitFor } from '../../helpers/http-load.js';

test.serial(
  'SIGKILL of a worker with unacknowledged handoffs: every request is answered by another worker',
  async (t) => {
    const before = openFdCount();
    // Worker 1 blocks right after it became ready (long enough that only the kill ends it); worker 2 serves.
    const serving = await servePool(t, 'worker-slow-adopt.js', {
      min: 2,
      max: 2,
      maxInFlight: 8,
      env: { SLOW_WORKER_ID: '1', SLOW_BLOCK_MS: '30000' },
    });
    const { pool, dispatcher } = serving;
    const slow = pool.workers.find((worker) => worker.id === 1);
    t.truthy(slow, 'worker 1 exists');
    t.teardown(() => slow.kill('SIGKILL'));
    const exited = new Promise((resolve) => pool.on('exit', (worker, exit) => worker === slow && resolve(exit)));

    const load = runLoad(serving.port, { total: 60, concurrency: 30, timeoutMs: 20_000 });
    // Round-robin offers worker 1 its share; none comes back acknowledged while it blocks.
    await waitFor(() => slow.inFlight === 8, 'worker 1 to have a full window of unacknowledged handoffs');
    t.is(slow.handedOff, 0);
    slow.kill('SIGKILL');
    const exit = await exited;
    t.is(exit.signal, 'SIGKILL');

    const result = await load;
    t.deepEqual(result.errors, []);
    t.is(result.ok, 60);
    t.is(result.byWorker['1'], undefined, 'worker 1 answered nothing');
    // A response can reach the client before the worker's ACK reaches the master: both are in flight at once.
    await waitFor(() => dispatcher.stats().inFlight === 0, 'the last acknowledgements');
    const stats = dispatcher.stats();
    t.true(stats.redispatched >= 8, `redispatched ${stats.redispatched}`);
    t.is(stats.dropped, 0);
    t.is(stats.refused, 0, 'a dead worker is not a refusal');
    t.is(stats.handedOff, 60);
    await stopServing(serving);
    await assertNoFdLeak(t, before);
  },
);
