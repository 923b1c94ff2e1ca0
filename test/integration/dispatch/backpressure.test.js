// Backpressure: when no worker has room in its handoff window, the master holds at most maxPending accepted
// connections and stops accepting; the kernel's backlog keeps the rest, and every client is served in the end.
import test from 'ava';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { runLoad, servePool, stopServing } from '../../helpers/http-load.js';

test.serial(
  'maxInFlight 1, maxPending 4, a worker slow to take connections: pending never exceeds 4, all answered',
  async (t) => {
    const before = openFdCount();
    const serving = await servePool(
      t,
      'worker-block-per-request.js',
      { min: 1, max: 1, maxInFlight: 1, env: { WORKER_BLOCK_MS: '20' } },
      { maxPending: 4 },
    );
    const { dispatcher } = serving;
    let maxPending = 0;
    let maxUnserved = 0;
    const sample = () => {
      const stats = dispatcher.stats();
      maxPending = Math.max(maxPending, stats.pending);
      // Accepted and not yet acknowledged: what the master holds.
      maxUnserved = Math.max(maxUnserved, stats.accepted - stats.handedOff - stats.dropped);
    };
    dispatcher.on('handoff', sample);
    const sampler = setInterval(sample, 2);
    t.teardown(() => clearInterval(sampler));
    const result = await runLoad(serving.port, { total: 60, concurrency: 30, timeoutMs: 30_000 });
    clearInterval(sampler);
    t.deepEqual(result.errors, []);
    t.is(result.ok, 60);
    t.true(maxPending <= 4, `pending reached ${maxPending}`);
    t.is(maxPending, 4, 'the queue filled up (the test exercised backpressure)');
    // Pending plus one handoff in flight: the master never held more, whatever the clients did.
    t.true(maxUnserved <= 5, `the master held ${maxUnserved} connections`);
    t.is(dispatcher.stats().dropped, 0);
    await stopServing(serving);
    await assertNoFdLeak(t, before);
  },
);
