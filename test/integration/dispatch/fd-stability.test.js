// The master's descriptors after thousands of handoffs: each accepted connection is closed in the master
// once its worker acknowledged it, so the count while serving stays flat and returns to the start after.
import test from 'ava';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { runLoad, servePool, stopServing, waitFor } from '../../helpers/http-load.js';

/** The open descriptor count once it stopped changing (the warm-up's client sockets close asynchronously). */
async function settledFdCount() {
  let last = openFdCount();
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = openFdCount();
    if (now === last) return now;
    last = now;
  }
  return last;
}

test.serial('3000 connections through 2 workers leave the master with the descriptors it had', async (t) => {
  const before = openFdCount();
  const serving = await servePool(t, 'worker-http.js', { min: 2, max: 2 });
  const warmUp = await runLoad(serving.port, { total: 200, concurrency: 20 });
  t.is(warmUp.ok, 200, warmUp.errors.join('; '));
  // Serving: pool channels and the listening socket are open; nothing else may stay behind per connection.
  const serving0 = await settledFdCount();
  const result = await runLoad(serving.port, { total: 3000, concurrency: 50 });
  t.deepEqual(result.errors, []);
  t.is(result.ok, 3000);
  t.deepEqual(Object.keys(result.byWorker).sort(), ['1', '2']);
  // A response can reach the client before the worker's ACK reaches the master: both are in flight at once.
  await waitFor(() => serving.dispatcher.stats().inFlight === 0, 'the last acknowledgements');
  const stats = serving.dispatcher.stats();
  t.is(stats.handedOff, 3200);
  t.is(stats.inFlight, 0);
  t.is(stats.pending, 0);
  await assertNoFdLeak(t, serving0);
  await stopServing(serving);
  await assertNoFdLeak(t, before);
});
