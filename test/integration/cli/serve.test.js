// `portunus serve` end to end, through the real binary: a Node app in dispatch mode answering curl, --min 0
// (the first connection waits for the first worker; idle workers retire), spawn-workers, remove-workers,
// stats --json, and the metrics from `ctl metrics` and from --metrics, read with a Prometheus text parser.
import http from 'node:http';
import test from 'ava';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { openFdCount, assertNoFdLeak } from '../../helpers/fd-count.js';
import { fixture, waitFor } from '../../helpers/http-load.js';
import { alive, ctl, ctlJson, curl, startServe } from '../../helpers/serve-cli.js';
import { until, within } from '../../helpers/within.js';

const nodeApp = (name = 'worker-http.js') => [process.execPath, fixture(name)];

/** Workers of the serving generation that are starting or ready. */
function serving(stats) {
  return stats.pool.workers.filter(
    (w) => w.generation === stats.pool.generation && (w.state === 'starting' || w.state === 'ready'),
  );
}

test.serial('serve: a Node app in dispatch mode answers curl; SIGTERM drains it, exit 0, no worker left', async (t) => {
  const before = openFdCount();
  const serve = await startServe(t, { args: ['--min', '2'], command: nodeApp() });
  const answers = await Promise.all([curl(serve.port, '/a'), curl(serve.port, '/b'), curl(serve.port, '/c')]);
  for (const answer of answers) {
    t.is(answer.code, 0, answer.stderr);
    t.regex(JSON.parse(answer.body).url, /^\/[abc]$/);
  }
  const { workers } = await ctlJson(t, serve.socket, 'workers');
  t.is(workers.length, 2);
  serve.child.kill('SIGTERM');
  t.deepEqual(await within(serve.exited, 'serve to exit'), { code: 0, signal: null });
  await waitFor(() => workers.every((w) => !alive(w.pid)), 'the workers to exit');
  await assertNoFdLeak(t, before);
});

test.serial(
  'serve --min 0: no worker until the first connection, which is answered; idle workers retire',
  async (t) => {
    const serve = await startServe(t, { args: ['--min', '0', '--idle-timeout', '1'], command: nodeApp() });
    t.is(serving(await ctlJson(t, serve.socket, 'stats')).length, 0);
    const first = await curl(serve.port, '/first');
    t.is(first.code, 0, first.stderr);
    t.is(JSON.parse(first.body).url, '/first');
    const stats = await ctlJson(t, serve.socket, 'stats');
    t.is(stats.dispatchers[0].handedOff, 1);
    t.is(stats.dispatchers[0].dropped, 0);
    t.true(stats.pool.spawned >= 1);
    await serve.waitLog((entry) => entry.msg === 'scale down' && entry.reason === 'idle', 'an idle worker to retire');
    await until(
      async () => (await ctlJson(t, serve.socket, 'stats')).pool.workers.length === 0,
      'the pool to be empty again',
      20_000,
    );
    // And the next connection after idle is held for a new worker again.
    const again = await curl(serve.port, '/again');
    t.is(again.code, 0, again.stderr);
  },
);

test.serial('ctl spawn-workers, remove-workers, stats --json and metrics (parsed as Prometheus text)', async (t) => {
  const serve = await startServe(t, {
    args: ['--min', '1', '--max', '4', '--metrics', '127.0.0.1:0'],
    command: nodeApp(),
  });
  const spawned = await ctlJson(t, serve.socket, 'spawn-workers', '2');
  t.like(spawned, { started: 2, workers: 3, min: 3, max: 4 });
  const capped = await ctlJson(t, serve.socket, 'spawn-workers', '5');
  t.like(capped, { started: 1, workers: 4, min: 4 });
  await until(
    async () => (await ctlJson(t, serve.socket, 'workers')).workers.every((w) => w.state === 'ready'),
    'four ready workers',
  );
  for (let i = 0; i < 6; i++) t.is((await curl(serve.port, `/${i}`)).code, 0);

  const removed = await ctlJson(t, serve.socket, 'remove-workers', '3');
  t.like(removed, { removed: 3, workers: 1, min: 1 });
  await until(async () => (await ctlJson(t, serve.socket, 'workers')).workers.length === 1, 'three workers to drain');

  const stats = await ctlJson(t, serve.socket, 'stats');
  t.is(stats.mode, 'dispatch');
  t.is(stats.dispatchers.length, 1);
  t.is(stats.dispatchers[0].address.port, serve.port);
  t.like(stats.dispatchers[0], { accepted: 6, handedOff: 6, dropped: 0, inFlight: 0 });
  t.like(stats.pool, { spawned: 4, exited: 3, crashed: 0, min: 1, max: 4 });

  const { code, stdout } = await ctl(serve.socket, 'metrics');
  t.is(code, 0);
  const families = Object.fromEntries(parsePrometheusTextFormat(stdout).map((family) => [family.name, family]));
  const value = (name, labels = {}) =>
    Number(families[name].metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)).value);
  const listener = `127.0.0.1:${serve.port}`;
  t.is(families.portunus_handoffs_total.type, 'COUNTER');
  t.is(value('portunus_handoffs_total', { listener }), 6);
  t.is(value('portunus_connections_accepted_total', { listener }), 6);
  t.is(value('portunus_handoffs_in_flight', { listener }), 0);
  t.is(value('portunus_redispatched_total', { listener }), 0);
  t.is(value('portunus_dropped_total', { listener }), 0);
  t.is(value('portunus_control_refused_peers_total'), 0);
  t.is(value('portunus_pool_size'), 1);
  t.is(value('portunus_workers', { state: 'ready' }), 1);
  const histogram = families.portunus_adoption_latency_seconds;
  t.is(histogram.type, 'HISTOGRAM');
  t.is(Number(histogram.metrics[0].count), 6);
  t.true(Number(histogram.metrics[0].sum) > 0);
  t.true(Object.values(histogram.metrics[0].buckets).every((count) => Number(count) <= 6));
  t.is(Number(histogram.metrics[0].buckets['+Inf']), 6);

  // The same metrics over HTTP, for Prometheus to scrape.
  const metricsLog = await serve.waitLog((entry) => entry.msg === 'metrics', 'the metrics address');
  const scraped = await new Promise((resolve, reject) => {
    http
      .get(metricsLog.url, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve({ type: response.headers['content-type'], body }));
      })
      .on('error', reject);
  });
  t.regex(scraped.type, /^text\/plain; version=0\.0\.4/);
  const scrapedFamilies = parsePrometheusTextFormat(scraped.body).map((family) => family.name);
  t.true(scrapedFamilies.includes('portunus_adoption_latency_seconds'));
});

test.serial('SIGHUP restarts the workers (a new generation answers); SIGUSR2 is logged, not fatal', async (t) => {
  const serve = await startServe(t, { args: ['--min', '2'], command: nodeApp() });
  const before = await ctlJson(t, serve.socket, 'workers');
  serve.child.kill('SIGHUP');
  await serve.waitLog((entry) => entry.msg === 'workers restarted' && entry.generation === 1, 'the restart');
  const after = await ctlJson(t, serve.socket, 'workers');
  t.is(after.workers.length, 2);
  t.true(after.workers.every((w) => w.generation === 1));
  t.false(after.workers.some((w) => before.workers.some((old) => old.pid === w.pid)));
  t.is((await curl(serve.port, '/after-hup')).code, 0);
  serve.child.kill('SIGUSR2');
  await serve.waitLog((entry) => entry.msg.startsWith('SIGUSR2'), 'the SIGUSR2 warning');
  t.is((await curl(serve.port, '/after-usr2')).code, 0);
  t.is(serve.child.exitCode, null);
});

test.serial(
  'serve --mode shared: every worker accepts from the master listener; remove-workers keeps the last one',
  async (t) => {
    const serve = await startServe(t, { args: ['--mode', 'shared', '--min', '2'], command: nodeApp() });
    await until(
      async () => (await ctlJson(t, serve.socket, 'stats')).listeners[0]?.workers === 2,
      'both workers to hold the listener',
    );
    for (let i = 0; i < 4; i++) t.is((await curl(serve.port, `/${i}`)).code, 0);
    const stats = await ctlJson(t, serve.socket, 'stats');
    t.is(stats.mode, 'shared');
    t.deepEqual(stats.dispatchers, []);
    t.like(stats.listeners[0], { mode: 'shared', shared: 2, failed: 0 });
    t.like(await ctlJson(t, serve.socket, 'remove-workers', '5'), { removed: 1, workers: 1 });
    const { stdout } = await ctl(serve.socket, 'metrics');
    const families = parsePrometheusTextFormat(stdout);
    const shares = families.find((family) => family.name === 'portunus_listener_shares_total');
    t.is(Number(shares.metrics[0].value), 2);
    t.is(shares.metrics[0].labels.listener, `127.0.0.1:${serve.port}`);
    t.is((await curl(serve.port, '/after')).code, 0);
  },
);
