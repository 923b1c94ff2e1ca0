// Upgrades that do not happen: a successor that crashes before it is ready, one that is never ready, and a
// second successor while one is taking over. The running generation keeps serving throughout (no request
// refused or reset), says why (its 'rollback' and 'busy' events), and a good successor still takes over
// afterwards: nothing was closed.
import test from 'ava';
import path from 'node:path';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { keepLoading, requestGeneration, socketDirectory, startGeneration } from '../../helpers/generations.js';
import { waitFor, within } from '../../helpers/http-load.js';

function answeredBy(load, generation, count = 20) {
  return waitFor(
    () => (load.result.byGeneration[generation] ?? 0) >= count,
    `${count} answers from generation ${generation}`,
    20_000,
  );
}

/** A good successor takes over after the failed attempt, and the load saw no failure at all. */
async function goodSuccessorTakesOver(t, { env, first, load, generation }) {
  const next = startGeneration(t, { ...env, GENERATION: generation });
  await next.next('serving');
  await first.next('handover');
  await within(first.exited, 'generation 1 to exit', 20_000);
  await answeredBy(load, generation);
  const result = await load.stop();
  t.deepEqual(result.errors, []);
  t.is(result.failed, 0);
  next.child.kill('SIGTERM');
  await within(next.exited, `generation ${generation} to exit`);
}

// reuseport: the successor took copies of every member of the group; its crash must leave the group, and the
// connections the kernel queues on each member, to the master and its workers.
const crashModes = { dispatch: 'dispatching', ...(process.platform === 'linux' ? { reuseport: 'reuseport' } : {}) };
for (const [mode, master] of Object.entries(crashModes)) {
  test.serial(
    `a successor that crashes before it is ready: the ${master} master rolls back and keeps serving`,
    async (t) => {
      const before = openFdCount();
      const directory = socketDirectory(t);
      const env = { TAKEOVER_PATH: path.join(directory, 'takeover.sock'), MODE: mode };
      const first = startGeneration(t, { ...env, GENERATION: '1' });
      const { web } = await first.next('serving');
      const load = keepLoading(t, { port: web.port });
      await answeredBy(load, '1');

      const crashing = startGeneration(t, { ...env, GENERATION: '2', FAIL: 'crash-before-ready' });
      await crashing.next('crashing');
      t.is((await crashing.exited).code, 70);
      const rollback = await first.next('rollback');
      t.is(rollback.code, 'ERR_PORTUNUS_TAKEOVER_FAILED');
      t.is(rollback.successor, crashing.pid);
      const served = load.result.ok;
      await waitFor(() => load.result.ok >= served + 20, 'generation 1 to go on answering');
      t.is((await requestGeneration({ port: web.port })).generation, '1');

      await goodSuccessorTakesOver(t, { env, first, load, generation: '3' });
      await assertNoFdLeak(t, before);
    },
  );
}

test.serial(
  'successors that are never ready: the shared-listener master rolls back at readyTimeoutMs, each time',
  async (t) => {
    const before = openFdCount();
    const directory = socketDirectory(t);
    const env = { TAKEOVER_PATH: path.join(directory, 'takeover.sock'), MODE: 'shared' };
    // Short enough for a test, long enough for a stuck successor (which starts nothing) to receive the listeners.
    const first = startGeneration(t, { ...env, GENERATION: '1', READY_TIMEOUT_MS: '3000' });
    const { web } = await first.next('serving');
    const load = keepLoading(t, { port: web.port });
    await answeredBy(load, '1');

    // Two in a row: after the first rollback the listeners are still there to be offered again.
    for (const generation of ['2', '3']) {
      const stuck = startGeneration(t, { ...env, GENERATION: generation, FAIL: 'never-ready' });
      t.deepEqual((await stuck.next('holding')).names, ['web']);
      const rollback = await first.next('rollback');
      t.is(rollback.code, 'ERR_PORTUNUS_TAKEOVER_TIMEOUT');
      t.is(rollback.successor, stuck.pid);
      // The stuck successor holds copies of the listener and never accepts: its end changes nothing.
      stuck.child.kill('SIGKILL');
      await stuck.exited;
      const served = load.result.ok;
      await waitFor(
        () => load.result.ok >= served + 20,
        `generation 1 to go on answering after generation ${generation}`,
      );
    }
    const result = await load.stop();
    t.deepEqual(result.errors, []);
    t.is(result.failed, 0);
    t.deepEqual(Object.keys(result.byGeneration), ['1']);
    first.child.kill('SIGTERM');
    await within(first.exited, 'generation 1 to exit');
    await assertNoFdLeak(t, before);
  },
);

test.serial('a second successor while one is taking over is refused with ERR_PORTUNUS_TAKEOVER_BUSY', async (t) => {
  const before = openFdCount();
  const directory = socketDirectory(t);
  const env = { TAKEOVER_PATH: path.join(directory, 'takeover.sock'), UDP: '1' };
  const first = startGeneration(t, { ...env, GENERATION: '1' });
  const { web } = await first.next('serving');
  const load = keepLoading(t, { port: web.port });
  await answeredBy(load, '1');

  const slow = startGeneration(t, { ...env, GENERATION: '2', FAIL: 'never-ready' });
  await slow.next('holding');
  const second = startGeneration(t, { ...env, GENERATION: '3' });
  const failed = await second.next('take-failed');
  t.is(failed.code, 'ERR_PORTUNUS_TAKEOVER_BUSY');
  t.is((await second.exited).code, 2);
  t.is((await first.next('busy')).successor, second.pid);

  // The first successor gives up (dies): the takeover it ran rolls back, and the next one may proceed.
  slow.child.kill('SIGKILL');
  t.is((await first.next('rollback')).code, 'ERR_PORTUNUS_TAKEOVER_FAILED');
  await goodSuccessorTakesOver(t, { env, first, load, generation: '4' });
  await assertNoFdLeak(t, before);
});
