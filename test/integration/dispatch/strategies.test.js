// How the dispatcher picks a worker: 'least-busy' avoids the worker holding connections, 'hash' keeps a
// client address on one worker while the set is stable, and a custom function decides alone.
import test from 'ava';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { request, servePool, stopServing, waitFor } from '../../helpers/http-load.js';

const loadOf = (dispatcher, id) => dispatcher.stats().workers.find((worker) => worker.id === id)?.load;

test.serial("'least-busy' sends new connections to the worker with fewer open ones", async (t) => {
  const before = openFdCount();
  const serving = await servePool(
    t,
    'worker-hold-requests.js',
    { min: 2, max: 2, highWater: 100 },
    { strategy: 'least-busy' },
  );
  const { dispatcher } = serving;
  const handoffs = [];
  dispatcher.on('handoff', ({ worker }) => handoffs.push(worker.id));
  // One long request: the busy worker reports it open until the client gives up on it.
  const abort = new AbortController();
  // Settled into a value at once: a failure further down aborts it at teardown, and that must not surface
  // as an unhandled rejection hiding the failure itself.
  const long = request(serving.port, { path: '/?hold=60000', timeoutMs: 60_000, signal: abort.signal }).catch(
    (error) => error,
  );
  t.teardown(() => abort.abort());
  await waitFor(() => handoffs.length === 1, 'the long request to be handed off');
  const busy = handoffs[0];
  const idle = busy === 1 ? 2 : 1;
  await waitFor(() => loadOf(dispatcher, busy) === 1, 'the busy worker to report its open connection');
  const answeredBy = [];
  for (let i = 0; i < 8; i++) {
    // Each short request waits for the idle worker's report of 0 open, so the two loads compare 0 to 1. The
    // report of the previous short request being open may still be on its way (reports are rate-limited to
    // one per 100 ms): 0 must have held across a few report intervals, or a late 1 would make it a tie.
    await waitFor(() => loadOf(dispatcher, idle) === 0, 'the idle worker to report no open connection');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await waitFor(() => loadOf(dispatcher, idle) === 0, 'the idle worker to report no open connection again');
    answeredBy.push((await request(serving.port, { path: '/?hold=0' })).worker);
  }
  t.deepEqual(answeredBy, Array(8).fill(String(idle)));
  t.is(loadOf(dispatcher, busy), 1, 'the long request was still open throughout');
  abort.abort();
  t.is((await long).name, 'AbortError');
  await stopServing(serving);
  await assertNoFdLeak(t, before);
});

// Other systems configure only 127.0.0.1 on loopback.
const onLinux = process.platform === 'linux' ? test.serial : test.serial.skip;

onLinux("'hash' keeps each client address on one worker while the set is stable", async (t) => {
  const before = openFdCount();
  const serving = await servePool(t, 'worker-http.js', { min: 2, max: 2 }, { strategy: 'hash' });
  // Loopback is a /8: each local address is a different client to the dispatcher.
  const addresses = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'];
  const workersOf = {};
  for (let round = 0; round < 5; round++) {
    await Promise.all(
      addresses.map(async (localAddress) => {
        const answer = await request(serving.port, { localAddress });
        (workersOf[localAddress] ??= new Set()).add(answer.worker);
      }),
    );
  }
  for (const address of addresses) t.is(workersOf[address].size, 1, `${address} went to ${[...workersOf[address]]}`);
  const used = new Set(addresses.map((address) => [...workersOf[address]][0]));
  t.is(used.size, 2, 'different addresses are spread over both workers');
  await stopServing(serving);
  await assertNoFdLeak(t, before);
});

test.serial('a custom strategy function picks the worker', async (t) => {
  const before = openFdCount();
  const calls = [];
  const strategy = (workers, connection) => {
    calls.push({ ids: workers.map((worker) => worker.id), connection });
    return workers.find((worker) => worker.id === 2);
  };
  const serving = await servePool(t, 'worker-http.js', { min: 2, max: 2 }, { strategy });
  const answers = await Promise.all(Array.from({ length: 20 }, () => request(serving.port)));
  t.deepEqual(
    answers.map((answer) => answer.worker),
    Array(20).fill('2'),
  );
  t.true(calls.length >= 20);
  t.true(calls.every((call) => call.ids.every((id) => id === 1 || id === 2)));
  await stopServing(serving);
  await assertNoFdLeak(t, before);
});
