// A pool that cannot start says why: acceptAndDispatch() rejects with the first worker's exit, the last
// lines of its stderr and a hint at the usual mistake, and leaves no worker, listening socket or descriptor
// behind. Connections waiting for a pool that cannot serve them are closed after queueTimeoutMs instead of
// waiting forever.
import net from 'node:net';
import test from 'ava';
import { WorkerPool, acceptAndDispatch } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { fixture, nextEvent, servePool, stopServing, within } from '../../helpers/http-load.js';

/** Starts a dispatcher in front of a pool running `args`; resolves with the rejection it must end in. */
async function failedStart(t, poolOptions) {
  const pool = new WorkerPool({ pingIntervalMs: 0, drainTimeoutMs: 500, stdio: 'ignore', ...poolOptions });
  t.teardown(() => within(pool.close(), 'the pool to close', 15_000).catch(() => {}));
  const error = await within(
    t.throwsAsync(acceptAndDispatch({ listen: { host: '127.0.0.1', port: 0 }, pool })),
    'acceptAndDispatch() to reject',
    20_000,
  );
  // The dispatcher closed the pool it started: no worker is left running or being respawned.
  t.true(pool.isClosed);
  t.deepEqual(pool.workers, []);
  return error;
}

test.serial("a worker script that does not exist: rejects with Node's own words and a hint at args", async (t) => {
  const before = openFdCount();
  const error = await failedStart(t, { args: [fixture('no-such-worker.js')], min: 2, max: 2 });
  t.is(error.code, 'ERR_PORTUNUS_WORKER_EXITED');
  t.is(error.exit.code, 1);
  t.regex(error.stderr, /Cannot find module .*no-such-worker\.js/);
  t.regex(error.hint, /command and args/);
  t.regex(error.message, /exited with code 1 before it was ready/);
  t.regex(error.message, /Cannot find module/);
  await assertNoFdLeak(t, before);
});

test.serial('a command that does not exist: rejects with the spawn error', async (t) => {
  const before = openFdCount();
  const error = await failedStart(t, { command: '/nonexistent/portunus-worker', min: 1, max: 1 });
  t.is(error.code, 'ERR_PORTUNUS_WORKER_EXITED');
  t.is(error.cause.code, 'ENOENT');
  t.regex(error.message, /could not be started/);
  await assertNoFdLeak(t, before);
});

test.serial('a worker that throws while starting: rejects with the end of its stderr', async (t) => {
  const before = openFdCount();
  const error = await failedStart(t, { args: [fixture('worker-throws-on-start.js')], min: 1, max: 1 });
  t.is(error.code, 'ERR_PORTUNUS_WORKER_EXITED');
  t.is(error.exit.code, 1);
  t.regex(error.stderr, /database unreachable: connect ECONNREFUSED 127\.0\.0\.1:5432/);
  t.regex(error.message, /--- last lines of its stderr ---\n[^]*database unreachable/);
  await assertNoFdLeak(t, before);
});

test.serial('a worker that calls server.listen() instead of adoptConnections(): the hint says so', async (t) => {
  const before = openFdCount();
  const error = await failedStart(t, {
    args: [fixture('worker-listens-itself.js')],
    min: 1,
    max: 1,
    readyTimeoutMs: 1500,
  });
  t.is(error.code, 'ERR_PORTUNUS_READY_TIMEOUT');
  t.regex(error.hint, /listens on 127\.0\.0\.1:\d+ itself \(server\.listen\(\)\).*adoptConnections\(server\)/);
  t.regex(error.message, /did not call adoptConnections\(\) within 1500 ms/);
  t.is(error.exit.signal, 'SIGKILL');
  await assertNoFdLeak(t, before);
});

test.serial('connections waiting for a pool whose workers keep crashing are closed after queueTimeoutMs', async (t) => {
  const before = openFdCount();
  // min 0: the dispatcher starts, and the first connection asks for a worker that crashes at once, again
  // and again (each crash reported with its backoff).
  const serving = await servePool(
    t,
    'worker-crash-on-start.js',
    { min: 0, max: 1, stdio: 'ignore' },
    { queueTimeoutMs: 1000 },
  );
  const { pool, dispatcher } = serving;
  const crashes = [];
  pool.on('crash', ({ error, respawnInMs }) => crashes.push({ code: error.code, respawnInMs }));
  const dropped = nextEvent(dispatcher, 'drop', 'the waiting connection to be dropped', 10_000);
  const client = net.connect(serving.port, '127.0.0.1');
  client.on('error', () => {});
  client.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
  const ended = new Promise((resolve) => client.once('close', resolve));
  const [{ error }] = await dropped;
  t.is(error.code, 'ERR_PORTUNUS_QUEUE_TIMEOUT');
  await within(ended, 'the client to see its connection closed');
  t.true(crashes.length >= 1, `crashes reported: ${crashes.length}`);
  t.is(crashes[0].code, 'ERR_PORTUNUS_WORKER_EXITED');
  t.like(dispatcher.stats(), { accepted: 1, dropped: 1, pending: 0, inFlight: 0 });
  await stopServing(serving);
  await assertNoFdLeak(t, before);
});
