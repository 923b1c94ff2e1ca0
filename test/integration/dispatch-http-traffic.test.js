// Real HTTP traffic through a dispatching master: many concurrent clients, each request on its own
// connection or over keep-alive connections, all answered, and spread over the pool's workers.
import test from 'ava';
import http from 'node:http';
import { assertNoFdLeak, openFdCount } from '../helpers/fd-count.js';
import { runLoad, servePool, stopServing } from '../helpers/http-load.js';

test.serial('500 requests, 50 at a time, one connection each: all answered, by both workers', async (t) => {
  const before = openFdCount();
  const serving = await servePool(t, 'worker-http.js', { min: 2, max: 2 });
  const result = await runLoad(serving.port, { total: 500, concurrency: 50 });
  t.deepEqual(result.errors, []);
  t.is(result.ok, 500);
  t.deepEqual(Object.keys(result.byWorker).sort(), ['1', '2'], JSON.stringify(result.byWorker));
  const stats = serving.dispatcher.stats();
  t.is(stats.accepted, 500);
  t.is(stats.handedOff, 500);
  t.is(stats.dropped, 0);
  await stopServing(serving);
  await assertNoFdLeak(t, before);
});

test.serial('500 requests over 10 keep-alive connections: all answered, by both workers', async (t) => {
  const before = openFdCount();
  const serving = await servePool(t, 'worker-http.js', { min: 2, max: 2 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
  t.teardown(() => agent.destroy());
  const result = await runLoad(serving.port, { total: 500, concurrency: 50, agent });
  t.deepEqual(result.errors, []);
  t.is(result.ok, 500);
  t.deepEqual(Object.keys(result.byWorker).sort(), ['1', '2'], JSON.stringify(result.byWorker));
  // Connections, not requests, are dispatched: the agent opened at most 10.
  t.true(serving.dispatcher.stats().accepted <= 10, `accepted ${serving.dispatcher.stats().accepted}`);
  agent.destroy();
  await stopServing(serving);
  await assertNoFdLeak(t, before);
});
