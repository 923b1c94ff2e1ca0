// pool.restart() under traffic: a new generation is ready before the old one drains, so clients opening
// connections throughout see no failure, and the answers move from the old workers to the new ones.
import test from 'ava';
import http from 'node:http';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { runLoad, servePool, stopServing, waitFor, within } from '../../helpers/http-load.js';

test.serial(
  'restart() while clients keep opening connections: no request fails, new workers take over, old ones exit',
  async (t) => {
    const before = openFdCount();
    const serving = await servePool(t, 'worker-http.js', { min: 2, max: 2 });
    const { pool, dispatcher } = serving;
    const oldIds = pool.workers.map((worker) => String(worker.id)).sort();
    const exits = [];
    pool.on('exit', (worker, exit) => exits.push({ id: String(worker.id), generation: worker.generation, exit }));

    let restarted = false;
    let afterRestart = 0;
    const load = runLoad(serving.port, {
      concurrency: 5,
      // Keep going until a good number of requests started after the restart finished.
      until: () => restarted && ++afterRestart > 200,
    });
    await waitFor(() => dispatcher.stats().handedOff >= 100, 'traffic to the first generation');
    const restartedAt = Date.now();
    await within(pool.restart(), 'the restart', 20_000);
    restarted = true;
    const result = await load;

    t.deepEqual(result.errors, []);
    t.is(result.failed, 0);
    t.is(pool.generation, 1);
    const newIds = pool.workers.map((worker) => String(worker.id)).sort();
    t.is(newIds.length, 2);
    t.deepEqual(
      newIds.filter((id) => oldIds.includes(id)),
      [],
      'the new generation has new workers',
    );
    t.true(pool.workers.every((worker) => worker.generation === 1 && worker.state === 'ready'));
    // Before the restart only old workers answered; once it resolved, only new ones.
    const early = new Set(result.answers.filter((a) => a.startedAt < restartedAt).map((a) => a.worker));
    const late = new Set(result.answers.filter((a) => a.generation === '1').map((a) => a.worker));
    t.deepEqual([...early].sort(), oldIds);
    t.deepEqual([...late].sort(), newIds);
    const lastAnswers = result.answers.slice(-50);
    t.true(
      lastAnswers.every((a) => newIds.includes(a.worker)),
      'requests after the restart went to the new generation',
    );
    // The old generation exited by itself, as asked (drained), not killed.
    t.deepEqual(exits.map((e) => e.id).sort(), oldIds);
    t.true(
      exits.every((e) => e.exit.expected && e.exit.code === 0),
      JSON.stringify(exits),
    );
    t.is(pool.stats().crashed, 0);
    t.is(pool.stats().restarts, 1);
    await stopServing(serving);
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'restart() under keep-alive traffic: no request fails, old workers finish their connections and exit by themselves',
  async (t) => {
    const before = openFdCount();
    const serving = await servePool(t, 'worker-http.js', { min: 2, max: 2, drainTimeoutMs: 10_000 });
    const { pool, dispatcher } = serving;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 5 });
    t.teardown(() => agent.destroy());
    const exits = [];
    pool.on('exit', (worker, exit) => exits.push(exit));
    let restarts = 0;
    let afterRestart = 0;
    const load = runLoad(serving.port, { concurrency: 5, agent, until: () => restarts === 2 && ++afterRestart > 200 });
    // Busy keep-alive connections: an old worker must send them away (Connection: close), not reset them.
    await waitFor(() => dispatcher.stats().handedOff >= 5, 'keep-alive connections to the first generation');
    await within(pool.restart(), 'the first restart', 20_000);
    restarts++;
    await within(pool.restart(), 'the second restart', 20_000);
    restarts++;
    const result = await load;
    t.deepEqual(result.errors, []);
    t.is(result.failed, 0);
    t.is(pool.generation, 2);
    t.true(result.answers.slice(-50).every((a) => a.generation === '2'));
    t.is(exits.length, 4);
    // Not killed at drainTimeoutMs: each old worker exited once its last connection closed.
    t.true(
      exits.every((exit) => exit.expected && exit.code === 0),
      JSON.stringify(exits),
    );
    agent.destroy();
    await stopServing(serving);
    await assertNoFdLeak(t, before);
  },
);
