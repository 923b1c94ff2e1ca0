// A worker that takes handoffs and never acknowledges them holds no connection for long: after ackTimeoutMs
// the dispatcher reports it unhealthy and stops sending to it, the pool kills and replaces it, and every
// connection it held goes to another worker. Shown with a foreign worker (Python, answering pings, keeping
// the descriptors) and a Node worker whose adoption is wedged; health pings alone pass both.
import test from 'ava';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { fixture, nextEvent, runLoad, servePool, stopServing, waitFor } from '../../helpers/http-load.js';

/** A pool whose worker 1 runs `firstWorker` (argv) and every other worker worker-http.js. */
function mixedPool(firstWorker) {
  const script = 'if [ "$PORTUNUS_WORKER_ID" = 1 ]; then shift 2; exec "$@"; else exec "$1" "$2"; fi';
  return {
    command: 'sh',
    args: ['-c', script, 'mixed-pool', process.execPath, fixture('worker-http.js'), ...firstWorker],
    min: 2,
    max: 2,
    // Pings run, and the stuck worker answers them: only the acknowledgement deadline can find it.
    pingIntervalMs: 200,
    pingTimeoutMs: 5000,
  };
}

for (const [name, firstWorker] of [
  ['a Python worker that answers pings but never acknowledges', ['python3', fixture('python-worker-never-acks.py')]],
  ['a Node worker whose adoption is wedged', [process.execPath, fixture('worker-adoption-wedged.js')]],
]) {
  test.serial(`${name}: its connections go to another worker, it is replaced`, async (t) => {
    const before = openFdCount();
    const serving = await servePool(t, 'worker-http.js', mixedPool(firstWorker), { ackTimeoutMs: 1000 });
    const { pool, dispatcher } = serving;
    const stuck = pool.workers.find((worker) => worker.id === 1);
    t.truthy(stuck, 'worker 1 exists');
    const poolSaw = nextEvent(pool, 'unhealthy', 'the pool to hear worker 1 is unhealthy', 15_000);
    const dispatcherSaw = nextEvent(dispatcher, 'unhealthy', 'the dispatcher to find worker 1 unhealthy', 15_000);
    const replaced = nextEvent(pool, 'ready', 'a replacement for worker 1', 20_000, (worker) => worker.id > 2);

    // Round-robin gives worker 1 its share; none of it may be lost or left waiting.
    const result = await runLoad(serving.port, { total: 40, concurrency: 40, timeoutMs: 20_000 });
    t.deepEqual(result.errors, []);
    t.is(result.ok, 40);
    t.is(result.byWorker['1'], undefined, 'worker 1 answered nothing');

    const [{ worker, error }] = await dispatcherSaw;
    t.is(worker, stuck);
    t.is(error.code, 'ERR_PORTUNUS_ACK_TIMEOUT');
    const [sick, poolError] = await poolSaw;
    t.is(sick, stuck);
    t.is(poolError, error);
    await stuck.exited();
    t.is(stuck.child.signalCode, 'SIGKILL');
    await replaced;

    await waitFor(() => dispatcher.stats().inFlight === 0, 'the last acknowledgements');
    const stats = dispatcher.stats();
    t.is(stats.ackTimeouts, 1);
    t.true(stats.redispatched >= 1, `redispatched ${stats.redispatched}`);
    t.is(stats.dropped, 0);
    t.is(stats.handedOff, 40);
    await stopServing(serving);
    await assertNoFdLeak(t, before);
  });
}
