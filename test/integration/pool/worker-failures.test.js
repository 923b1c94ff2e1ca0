// Workers that fail: one that never becomes ready is killed after readyTimeoutMs, one that crashes on start
// is respawned with a growing delay (no busy loop), and one that stops answering pings is replaced.
import test from 'ava';
import { WorkerPool } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { fixture, nextEvent, request, servePool, stopServing, waitFor, within } from '../../helpers/http-load.js';

function startPool(t, script, options) {
  const pool = new WorkerPool({ args: [fixture(script)], pingIntervalMs: 0, drainTimeoutMs: 500, ...options });
  t.teardown(() => within(pool.close(), 'the pool to close', 15_000).catch(() => {}));
  return pool;
}

test.serial(
  'a worker that never calls adoptConnections is killed after readyTimeoutMs and counted as a crash',
  async (t) => {
    const before = openFdCount();
    const pool = startPool(t, 'worker-never-ready.js', { min: 1, max: 1, readyTimeoutMs: 500, backoffInitialMs: 5000 });
    const exited = nextEvent(pool, 'exit', 'the first worker to exit', 10_000);
    const crashed = nextEvent(pool, 'crash', 'the crash report', 10_000);
    // start() settles once the minimum is ready or gone: here, gone, so it rejects with the reason.
    const error = await within(t.throwsAsync(pool.start()), 'start() to settle', 10_000);
    t.is(error.code, 'ERR_PORTUNUS_READY_TIMEOUT');
    t.regex(error.message, /did not call adoptConnections\(\) within 500 ms/);
    const [worker, exit] = await exited;
    const [report] = await crashed;
    t.is(report.error, error);
    t.is(report.worker, worker);
    t.is(worker.id, 1);
    t.is(exit.signal, 'SIGKILL');
    t.false(exit.expected);
    t.is(pool.stats().crashed, 1);
    t.is(pool.stats().exited, 1);
    await within(pool.close(), 'the pool to close', 15_000);
    await assertNoFdLeak(t, before);
  },
);

test.serial('a worker that exits at once is respawned with a doubling delay, not in a busy loop', async (t) => {
  const before = openFdCount();
  const backoffInitialMs = 100;
  const pool = startPool(t, 'worker-crash-on-start.js', { min: 1, max: 2, backoffInitialMs, backoffMaxMs: 10_000 });
  const spawns = [];
  const exits = [];
  pool.on('spawn', () => spawns.push(Date.now()));
  pool.on('exit', () => exits.push(Date.now()));
  const respawnDelays = [];
  pool.on('crash', ({ error, respawnInMs }) => {
    t.is(error.code, 'ERR_PORTUNUS_WORKER_EXITED');
    respawnDelays.push(respawnInMs);
  });
  // Every worker of the first generation failed: start() says so, and the pool keeps trying with backoff.
  await within(
    t.throwsAsync(pool.start(), {
      code: 'ERR_PORTUNUS_WORKER_EXITED',
      message: /exited with code 1 before it was ready/,
    }),
    'start() to settle',
    10_000,
  );
  await waitFor(() => spawns.length >= 5, 'five spawns', 20_000);
  const crashed = pool.stats().crashed;
  await within(pool.close(), 'the pool to close', 15_000);
  // After the n-th crash in a row the pool waits backoffInitialMs * 2^(n-1) before the next spawn.
  for (let n = 1; n < 5; n++) {
    const waited = spawns[n] - exits[n - 1];
    t.true(waited >= backoffInitialMs * 2 ** (n - 1) - 5, `spawn ${n + 1} came ${waited} ms after crash ${n}`);
  }
  t.true(crashed >= 4, `crashed ${crashed}`);
  // Each crash is reported with the delay before the next spawn.
  t.deepEqual(respawnDelays.slice(0, 4), [100, 200, 400, 800]);
  t.true(pool.stats().spawned <= 6, `spawned ${pool.stats().spawned}: no busy loop`);
  t.true(spawns.length <= 6);
  await assertNoFdLeak(t, before);
});

test.serial('a worker that stops answering pings is killed and replaced', async (t) => {
  const before = openFdCount();
  const serving = await servePool(t, 'worker-http.js', { min: 1, max: 1, pingIntervalMs: 200, pingTimeoutMs: 1000 });
  const { pool } = serving;
  const [stopped] = pool.workers;
  t.teardown(() => {
    // Whatever happened, leave no stopped process behind.
    try {
      process.kill(stopped.pid, 'SIGCONT');
      process.kill(stopped.pid, 'SIGKILL');
    } catch {}
  });
  const unhealthy = nextEvent(pool, 'unhealthy', 'the stopped worker to be found unhealthy', 10_000);
  const replaced = nextEvent(pool, 'ready', 'a replacement worker', 15_000, (worker) => worker !== stopped);
  process.kill(stopped.pid, 'SIGSTOP');
  const [sick, error] = await unhealthy;
  t.is(sick, stopped);
  t.is(error.code, 'ERR_PORTUNUS_PING_TIMEOUT');
  const [fresh] = await replaced;
  t.not(fresh.id, stopped.id);
  await stopped.exited();
  t.is(stopped.child.signalCode, 'SIGKILL');
  const answer = await request(serving.port);
  t.is(answer.status, 200);
  t.is(answer.worker, String(fresh.id));
  await stopServing(serving);
  await assertNoFdLeak(t, before);
});
