// `portunus ctl upgrade` and SIGUSR2 end to end, through the real binary: a new `portunus serve` takes the
// listeners over from the running one (which drains and exits 0) under continuous HTTP load with no failed
// request, and takes the control socket's path; a successor whose workers cannot start leaves the old
// master serving, and `ctl upgrade` reports why.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import { openFdCount, assertNoFdLeak } from '../../helpers/fd-count.js';
import { fixture, request, runLoad, waitFor } from '../../helpers/http-load.js';
import { alive, ctl, ctlJson, curl, socketDir, startServe } from '../../helpers/serve-cli.js';
import { within } from '../../helpers/within.js';
import { freePort } from '../../helpers/free-port.js';

/** A worker command whose program the test can replace (a deploy): app.mjs runs worker-http.js. */
function deployableApp(t) {
  const app = path.join(socketDir(t), 'app.mjs');
  fs.writeFileSync(app, `import ${JSON.stringify(fixture('worker-http.js'))};\n`);
  return app;
}

/** SIGKILLs process `pid` at teardown if the test left it running (a new master is no child of the test). */
function killAtTeardown(t, pid) {
  t.teardown(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
}

/**
 * Asks the running master for an upgrade and waits for it to exit 0; returns the new master's pid, which is
 * killed at teardown if still alive.
 */
async function upgradeAndWaitForOldMaster(t, serve) {
  const successor = (await ctlJson(t, serve.socket, 'upgrade')).upgraded.pid;
  killAtTeardown(t, successor);
  t.deepEqual(await within(serve.exited, 'the old master to exit', 30_000), { code: 0, signal: null });
  return successor;
}

test.serial(
  'ctl upgrade under load: a new master takes the listeners and the control socket, zero failed requests',
  async (t) => {
    const before = openFdCount();
    const serve = await startServe(t, { args: ['--min', '2'], command: [process.execPath, deployableApp(t)] });
    const oldWorkers = (await ctlJson(t, serve.socket, 'workers')).workers;
    let upgraded = false;
    const load = runLoad(serve.port, { until: () => upgraded, concurrency: 4 });
    // The old master drains and exits 0; load keeps going to the new one meanwhile.
    const successor = await upgradeAndWaitForOldMaster(t, serve);
    t.not(successor, serve.child.pid);
    await waitFor(() => oldWorkers.every((w) => !alive(w.pid)), 'the old workers to exit');
    const after = await runLoad(serve.port, { total: 20, concurrency: 4 });
    upgraded = true;
    const during = await load;
    t.is(during.failed, 0, during.errors.join('; '));
    t.is(after.failed, 0, after.errors.join('; '));
    t.true(during.ok > 0);
    t.log(`${during.ok} requests across the upgrade, ${during.failed} failed`);
    // The control socket's path answers for the new master now.
    const stats = await ctlJson(t, serve.socket, 'stats');
    t.true(stats.pool.workers.every((w) => !oldWorkers.some((old) => old.pid === w.pid)));
    t.is(stats.dispatchers[0].address.port, serve.port);
    // And it can be upgraded in turn (SIGUSR2 this time): the third master answers.
    process.kill(successor, 'SIGUSR2');
    const third = await serve.waitLog(
      (entry) => entry.msg === 'handed over' && entry.to !== successor,
      'the second upgrade',
      30_000,
    );
    killAtTeardown(t, third.to);
    await waitFor(() => !alive(successor), 'the second master to exit', 30_000);
    t.is((await curl(serve.port, '/third')).code, 0);
    process.kill(third.to, 'SIGTERM');
    await waitFor(() => !alive(third.to), 'the third master to exit', 30_000);
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'a failed upgrade (the new version cannot start) keeps the old master serving and reports it; the fixed one takes over',
  async (t) => {
    const app = deployableApp(t);
    const serve = await startServe(t, { args: ['--min', '1'], command: [process.execPath, app] });
    // Deploy a broken version: its workers exit at once.
    fs.writeFileSync(app, 'process.exit(3);\n');
    const upgrade = await ctl(serve.socket, 'upgrade');
    t.is(upgrade.code, 1);
    t.regex(upgrade.stderr, /ERR_PORTUNUS_TAKEOVER_FAILED/);
    t.is(serve.child.exitCode, null);
    const answer = await curl(serve.port, '/still-here');
    t.is(answer.code, 0, answer.stderr);
    t.is(JSON.parse(answer.body).url, '/still-here');
    t.like((await ctlJson(t, serve.socket, 'stats')).dispatchers[0], { dropped: 0 });
    // The rollback left the takeover socket offering: the fixed version takes over.
    fs.writeFileSync(app, `import ${JSON.stringify(fixture('worker-http.js'))};\n`);
    const fixed = await ctl(serve.socket, 'upgrade');
    t.is(fixed.code, 0, fixed.stderr);
    const pid = Number(/^upgraded: new master pid (\d+)$/m.exec(fixed.stdout)?.[1]);
    killAtTeardown(t, pid);
    t.deepEqual(await within(serve.exited, 'the old master to exit', 30_000), { code: 0, signal: null });
    t.is((await curl(serve.port, '/fixed')).code, 0);
    process.kill(pid, 'SIGTERM');
    await waitFor(() => !alive(pid), 'the new master to exit', 30_000);
  },
);

/** The text served at http://127.0.0.1:PORT/metrics, or undefined when nothing answers there. */
async function scrape(port) {
  const answer = await request(port, { path: '/metrics' }).catch(() => undefined);
  return answer?.status === 200 ? answer.body : undefined;
}

test.serial(
  'ctl upgrade with --metrics on a fixed port: the new master serves on and takes the port once the old one frees it',
  async (t) => {
    const metricsPort = await freePort();
    const serve = await startServe(t, {
      args: ['--min', '1', '--metrics', `127.0.0.1:${metricsPort}`],
      command: [process.execPath, deployableApp(t)],
    });
    t.regex((await scrape(metricsPort)) ?? '', /portunus_/);
    let upgraded = false;
    const load = runLoad(serve.port, { until: () => upgraded, concurrency: 4 });
    // The old master holds the metrics port until it drains: the new one must not give up serving for it.
    const successor = await upgradeAndWaitForOldMaster(t, serve);
    // Both masters log to the same stderr: the second 'metrics' line is the new master's.
    const metricsLines = () => serve.logs.filter((entry) => entry.msg === 'metrics').length;
    await waitFor(() => metricsLines() >= 2 || !alive(successor), 'the new master to serve its metrics', 20_000);
    t.true(alive(successor), `the new master is still running; its log:\n${serve.stderr()}`);
    const after = await runLoad(serve.port, { total: 20, concurrency: 4 });
    upgraded = true;
    const during = await load;
    t.is(during.failed, 0, during.errors.join('; '));
    t.is(after.failed, 0, after.errors.join('; '));
    const stats = await ctlJson(t, serve.socket, 'stats');
    t.is(stats.dispatchers[0].address.port, serve.port);
    t.regex((await scrape(metricsPort)) ?? '', /portunus_/);
    process.kill(successor, 'SIGTERM');
    await waitFor(() => !alive(successor), 'the new master to exit', 30_000);
  },
);

test.serial(
  'a new master that cannot have its metrics port after the takeover logs it and serves on (the listeners are not given up)',
  async (t) => {
    const before = openFdCount();
    // The deploy changed the config: its metrics port is one something else holds.
    const squatter = net.createServer();
    await new Promise((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const config = path.join(socketDir(t), 'portunus.json');
    fs.writeFileSync(config, JSON.stringify({ min: 1 }));
    const serve = await startServe(t, { args: ['--config', config], command: [process.execPath, deployableApp(t)] });
    fs.writeFileSync(config, JSON.stringify({ min: 1, metrics: `127.0.0.1:${squatter.address().port}` }));
    let upgraded = false;
    const load = runLoad(serve.port, { until: () => upgraded, concurrency: 4 });
    const successor = await upgradeAndWaitForOldMaster(t, serve);
    const failure = await serve.waitLog(
      (entry) => entry.msg === 'no metrics endpoint: serving on without it',
      'the metrics failure',
      30_000,
    );
    t.is(failure.code, 'EADDRINUSE');
    t.true(alive(successor));
    const after = await runLoad(serve.port, { total: 20, concurrency: 4 });
    upgraded = true;
    const during = await load;
    t.is(during.failed, 0, during.errors.join('; '));
    t.is(after.failed, 0, after.errors.join('; '));
    // The control socket is the new master's, and it can still be upgraded (to a config that works again).
    t.is((await ctlJson(t, serve.socket, 'stats')).dispatchers[0].address.port, serve.port);
    fs.writeFileSync(config, JSON.stringify({ min: 1 }));
    const third = (await ctlJson(t, serve.socket, 'upgrade')).upgraded.pid;
    killAtTeardown(t, third);
    await waitFor(() => !alive(successor), 'the second master to exit', 30_000);
    t.is((await curl(serve.port, '/third')).code, 0);
    process.kill(third, 'SIGTERM');
    await waitFor(() => !alive(third), 'the third master to exit', 30_000);
    await new Promise((resolve) => squatter.close(resolve));
    await assertNoFdLeak(t, before);
  },
);

test.serial('ctl upgrade in inherit mode: the new master passes the same listener to new Python workers', async (t) => {
  const serve = await startServe(t, {
    args: ['--mode', 'inherit', '--min', '1'],
    command: ['python3', fixture('python-socket-activated-server.py')],
  });
  const [old] = (await ctlJson(t, serve.socket, 'workers')).workers;
  const successor = await upgradeAndWaitForOldMaster(t, serve);
  await waitFor(() => !alive(old.pid), 'the old Python worker to exit');
  const reply = await curl(serve.port, '/after');
  t.is(reply.code, 0, reply.stderr);
  const body = JSON.parse(reply.body);
  t.is(body.path, '/after');
  t.not(body.pid, old.pid);
  const [worker] = (await ctlJson(t, serve.socket, 'workers')).workers;
  t.is(body.pid, worker.pid, 'answered by the new master’s worker');
  process.kill(successor, 'SIGTERM');
  await waitFor(() => !alive(successor), 'the new master to exit', 30_000);
});

test.serial(
  'ctl upgrade in reuseport mode under load: the group moves to the new master, zero failed requests',
  async (t) => {
    const before = openFdCount();
    const serve = await startServe(t, {
      args: ['--mode', 'reuseport', '--min', '2', '--max', '2'],
      command: [process.execPath, deployableApp(t)],
    });
    const oldWorkers = (await ctlJson(t, serve.socket, 'workers')).workers;
    let upgraded = false;
    const load = runLoad(serve.port, { until: () => upgraded, concurrency: 4 });
    const successor = await upgradeAndWaitForOldMaster(t, serve);
    await waitFor(() => oldWorkers.every((w) => !alive(w.pid)), 'the old workers to exit');
    const after = await runLoad(serve.port, { total: 20, concurrency: 4 });
    upgraded = true;
    const during = await load;
    t.is(during.failed, 0, during.errors.join('; '));
    t.is(after.failed, 0, after.errors.join('; '));
    t.true(during.ok > 0);
    const stats = await ctlJson(t, serve.socket, 'stats');
    t.like(stats.listeners[0], { mode: 'reuseport', listeners: 2 });
    process.kill(successor, 'SIGTERM');
    await waitFor(() => !alive(successor), 'the new master to exit', 30_000);
    await assertNoFdLeak(t, before);
  },
);
