// A server replaces itself with its next generation (offerListeners() / takeListeners()) while clients keep
// opening connections and reusing keep-alive ones: none is refused or reset, the new generation answers
// from then on, the old one drains and exits. In plain mode (the process serves HTTP itself, on TCP and
// on a Unix socket, plus a UDP socket), through a dispatching master, a shared-listener master and a reuseport
// master (its group's members move and are adopted as they are).
import test from 'ava';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { askUdp, keepLoading, requestGeneration, socketDirectory, startGeneration } from '../../helpers/generations.js';
import { waitFor, within } from '../../helpers/http-load.js';

/** Lets the load run until the generation `generation` has answered `count` requests. */
function answeredBy(load, generation, count = 20) {
  return waitFor(
    () => (load.result.byGeneration[generation] ?? 0) >= count,
    `${count} answers from generation ${generation}`,
    20_000,
  );
}

test.serial(
  'plain server: TCP, Unix and UDP listeners move to the next generation under load, none refused or reset',
  async (t) => {
    const before = openFdCount();
    const directory = socketDirectory(t);
    const env = {
      TAKEOVER_PATH: path.join(directory, 'takeover.sock'),
      UNIX_PATH: path.join(directory, 'web.sock'),
      UDP: '1',
    };
    const first = startGeneration(t, { ...env, GENERATION: '1' });
    const serving = await first.next('serving');
    t.is(await askUdp(serving.udp.port), 'generation 1');

    const load = keepLoading(t, { port: serving.web.port, unixPath: env.UNIX_PATH });
    await answeredBy(load, '1');
    const second = startGeneration(t, { ...env, GENERATION: '2' });
    const taken = await second.next('serving');
    t.true(taken.took);
    t.deepEqual((await first.next('handover')).successor, second.pid);
    t.deepEqual(await within(first.exited, 'generation 1 to exit'), { code: 0, signal: null });
    await answeredBy(load, '2');
    const result = await load.stop();

    t.deepEqual(result.errors, [], 'no request failed across the upgrade');
    t.is(result.failed, 0);
    // The Unix socket file is the one generation 1 created, still there and served by generation 2.
    t.true(fs.statSync(env.UNIX_PATH).isSocket());
    t.is((await requestGeneration({ socketPath: env.UNIX_PATH })).generation, '2');
    t.is((await requestGeneration({ port: serving.web.port })).generation, '2');
    t.is(await askUdp(serving.udp.port), 'generation 2', 'the same UDP port answers from generation 2');
    second.child.kill('SIGKILL');
    await second.exited;
    await assertNoFdLeak(t, before);
  },
);

// reuseport: a SO_REUSEPORT group balanced by the kernel (and /proc to name its sockets) is Linux's.
for (const mode of ['dispatch', 'shared', ...(process.platform === 'linux' ? ['reuseport'] : [])]) {
  test.serial(
    `${mode} master with a worker pool: the next generation brings its own pool, the old pool drains, none refused or reset`,
    async (t) => {
      const before = openFdCount();
      const directory = socketDirectory(t);
      const env = { TAKEOVER_PATH: path.join(directory, 'takeover.sock'), MODE: mode };
      const first = startGeneration(t, { ...env, GENERATION: '1' });
      const { web, members } = await first.next('serving');
      const load = keepLoading(t, { port: web.port });
      await answeredBy(load, '1');

      const second = startGeneration(t, { ...env, GENERATION: '2' });
      const serving = await second.next('serving');
      // reuseport: the successor adopted the group's members themselves (same sockets, same order), no new bind.
      if (mode === 'reuseport') {
        t.is(members.length, 2);
        t.deepEqual(serving.members, members);
      }
      await first.next('handover');
      t.deepEqual(await within(first.exited, 'generation 1 to drain and exit', 20_000), { code: 0, signal: null });
      await answeredBy(load, '2');
      const result = await load.stop();
      t.deepEqual(result.errors, []);
      t.is(result.failed, 0);
      t.is((await requestGeneration({ port: web.port })).generation, '2');
      second.child.kill('SIGTERM');
      await within(second.exited, 'generation 2 to exit');
      await assertNoFdLeak(t, before);
    },
  );
}

test.serial(
  'back to back: generation 3 takes over from 2 while generation 1 still drains a long request',
  async (t) => {
    const before = openFdCount();
    const directory = socketDirectory(t);
    const env = { TAKEOVER_PATH: path.join(directory, 'takeover.sock'), MODE: 'dispatch' };
    const first = startGeneration(t, { ...env, GENERATION: '1' });
    const { web } = await first.next('serving');
    // A request that generation 1's worker answers only once generation 3 has taken over (the file appears).
    const release = path.join(directory, 'release');
    const slow = new Promise((resolve, reject) => {
      const req = http.get(
        { host: '127.0.0.1', port: web.port, path: `/hold?until=${encodeURIComponent(release)}`, agent: false },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.headers['x-generation']));
        },
      );
      req.on('error', reject);
    });
    const load = keepLoading(t, { port: web.port });
    await answeredBy(load, '1');

    const second = startGeneration(t, { ...env, GENERATION: '2' });
    await second.next('serving');
    await first.next('handover');
    await answeredBy(load, '2');
    t.is(first.child.exitCode, null, 'generation 1 is still draining its long request');

    const third = startGeneration(t, { ...env, GENERATION: '3' });
    await third.next('serving');
    await second.next('handover');
    await answeredBy(load, '3');
    t.is(first.child.exitCode, null, 'generation 1 is still draining its long request');
    fs.writeFileSync(release, '');
    t.is(await within(slow, 'the long request', 30_000), '1', 'generation 1 finished the request it had');
    await within(first.exited, 'generation 1 to exit', 20_000);
    await within(second.exited, 'generation 2 to exit', 20_000);
    const result = await load.stop();
    t.deepEqual(result.errors, []);
    t.is(result.failed, 0);
    third.child.kill('SIGTERM');
    await within(third.exited, 'generation 3 to exit');
    await assertNoFdLeak(t, before);
  },
);
