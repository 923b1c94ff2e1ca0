// Inherit mode: a WorkerPool of workers in any language (here plain Python) that take the master's
// listening socket the systemd way (LISTEN_FDS), one process per worker, selected with serveListeners'
// `mode: 'inherit'`. A worker killed is replaced; a restart overlaps the generations (the new one runs
// before the old one gets SIGTERM), and the listening socket the master keeps holds connections meanwhile.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { WorkerPool, serveListeners } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { fixture, nextEvent, request, runLoad, waitFor, within } from '../../helpers/http-load.js';
import { findPython } from '../../helpers/python-peer.js';

const python = findPython('import http.server, socket');
const maybe = python ? test.serial : test.skip;

/** A pool of Python workers in inherit mode behind a listener on 127.0.0.1, port 0; closed at teardown. */
async function serveInherited(t, poolOptions = {}) {
  const pool = new WorkerPool({
    command: python,
    args: [fixture('python-socket-activated-server.py')],
    min: 2,
    max: 2,
    readyAfterMs: 300,
    drainTimeoutMs: 5000,
    stdio: 'ignore',
    ...poolOptions,
  });
  const serving = { pool, server: undefined, port: undefined };
  t.teardown(() => stop(serving).catch(() => {}));
  serving.server = await within(
    serveListeners({ listen: { host: '127.0.0.1', port: 0 }, pool, mode: 'inherit', name: 'web' }),
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

maybe('Python workers serve curl with the listener they inherited (LISTEN_FDS, LISTEN_PID = their pid)', async (t) => {
  const before = openFdCount();
  const serving = await serveInherited(t);
  const pids = serving.pool.workers.map((worker) => worker.pid);
  t.is(pids.length, 2);
  const { stdout } = await promisify(execFile)('curl', [
    '-sS',
    '--max-time',
    '10',
    `http://127.0.0.1:${serving.port}/curl`,
  ]);
  const answer = JSON.parse(stdout);
  t.like(answer, { name: 'web', path: '/curl' });
  t.true(pids.includes(answer.pid), 'a worker of the pool answered, not some other process');
  // The worker refuses to serve when LISTEN_PID is not its own pid: it answered, so the shim set it right.
  t.like(serving.server.stats(), { mode: 'inherit' });
  t.deepEqual(serving.pool.available(), [], 'no channel: nothing for a dispatcher');
  await stop(serving);
  t.is(serving.pool.workers.length, 0);
  await assertNoFdLeak(t, before);
});

maybe('a worker killed with SIGKILL is replaced, and the listener keeps serving', async (t) => {
  const before = openFdCount();
  const serving = await serveInherited(t, { backoffInitialMs: 50 });
  const [victim] = serving.pool.workers;
  const crash = nextEvent(serving.pool, 'crash', 'the crash to be reported');
  const replacement = nextEvent(
    serving.pool,
    'ready',
    'a replacement to be ready',
    10_000,
    (worker) => worker !== victim,
  );
  victim.child.kill('SIGKILL');
  const [{ worker }] = await crash;
  t.is(worker, victim);
  await replacement;
  await waitFor(() => serving.pool.workers.filter((w) => w.state === 'ready').length === 2, 'two workers again');
  t.false(serving.pool.workers.some((w) => w.pid === victim.pid));
  const result = await runLoad(serving.port, { total: 50, concurrency: 5 });
  t.deepEqual(result.errors, []);
  t.is(result.ok, 50);
  await stop(serving);
  await assertNoFdLeak(t, before);
});

/**
 * Requests from `concurrency` lanes, each sending the next as soon as the last was answered, until `stop()`:
 * `byGeneration` counts the answers as they come (from the x-worker-generation header), `failed` and the
 * first `errors` the requests that failed. `done` resolves when every lane has stopped.
 */
function continuousLoad(port, concurrency) {
  const load = { byGeneration: {}, failed: 0, errors: [], stopped: false };
  const lane = async () => {
    while (!load.stopped) {
      try {
        const answer = await request(port);
        if (answer.status !== 200) throw new Error(`status ${answer.status}`);
        load.byGeneration[answer.generation] = (load.byGeneration[answer.generation] ?? 0) + 1;
      } catch (error) {
        load.failed++;
        if (load.errors.length < 5) load.errors.push(error.message);
      }
    }
  };
  load.done = Promise.all(Array.from({ length: concurrency }, lane));
  load.stop = () => {
    load.stopped = true;
    return within(load.done, 'the load to finish');
  };
  return load;
}

maybe('pool.restart() under continuous load: no request fails, the new generation answers', async (t) => {
  const before = openFdCount();
  // A drain deadline far above what a graceful worker needs, so that one that does not finish by itself fails
  // the exit check below instead of being SIGKILLed with its requests (as the fixture was, before it stopped
  // blocking its main thread in join(): see python-socket-activated-server.py).
  const serving = await serveInherited(t, { drainTimeoutMs: 20_000 });
  const old = serving.pool.workers.map((worker) => worker.pid);
  const exits = [];
  serving.pool.on('exit', (worker, exit) => exits.push({ generation: worker.generation, ...exit }));
  const load = continuousLoad(serving.port, 8);
  t.teardown(() => load.stop());
  // The load runs across the whole restart: answered by the old generation before, by the new one after.
  await waitFor(() => (load.byGeneration['0'] ?? 0) >= 20, 'answers from the old generation');
  await within(serving.pool.restart(), 'the restart', 20_000);
  const afterRestart = load.byGeneration['1'] ?? 0;
  await waitFor(() => (load.byGeneration['1'] ?? 0) >= afterRestart + 20, 'answers from the new generation alone');
  await load.stop();
  t.log(`answers by generation across the restart: ${JSON.stringify(load.byGeneration)}`);
  t.log(`exits: ${JSON.stringify(exits)}`);
  t.deepEqual(load.errors, []);
  t.is(load.failed, 0);
  t.deepEqual(
    exits.map(({ code, signal }) => ({ code, signal })),
    [
      { code: 0, signal: null },
      { code: 0, signal: null },
    ],
    'the old workers finished by themselves on SIGTERM',
  );
  const fresh = serving.pool.workers.map((worker) => worker.pid);
  t.is(fresh.length, 2);
  t.false(
    fresh.some((pid) => old.includes(pid)),
    'every old worker is gone',
  );
  const last = await request(serving.port);
  t.is(last.generation, '1');
  t.true(fresh.includes(Number(last.worker)));
  await stop(serving);
  await assertNoFdLeak(t, before);
});
