// Real HTTP traffic through a dispatching master: many concurrent clients, each request on its own
// connection or over keep-alive connections, all answered, and spread over the pool's workers.
import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import http from 'node:http';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { runLoad, servePool, stopServing, waitFor } from '../../helpers/http-load.js';

test.serial('500 requests, 50 at a time, one connection each: all answered, by both workers', async (t) => {
  const before = openFdCount();
  const serving = await servePool(t, 'worker-http.js', { min: 2, max: 2 });
  const result = await runLoad(serving.port, { total: 500, concurrency: 50 });
  t.deepEqual(result.errors, []);
  t.is(result.ok, 500);
  t.deepEqual(Object.keys(result.byWorker).sort(), ['1', '2'], JSON.stringify(result.byWorker));
  // A response can reach the client before the worker's ACK reaches the master: both are in flight at once.
  await waitFor(() => serving.dispatcher.stats().inFlight === 0, 'the last acknowledgements');
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

function hasCurl() {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const withCurl = hasCurl() ? test.serial : test.serial.skip;

withCurl(
  'curl: requests on one keep-alive connection stay with one worker; a new connection goes to the other',
  async (t) => {
    const before = openFdCount();
    const serving = await servePool(t, 'worker-http.js', { min: 2, max: 2 });
    const url = `http://127.0.0.1:${serving.port}/`;
    const curl = (args) =>
      new Promise((resolve, reject) => {
        execFile('curl', ['-sS', '--max-time', '10', '-D', '-', ...args], { timeout: 15_000 }, (error, stdout) =>
          error ? reject(error) : resolve(stdout),
        );
      });
    const workersIn = (output) => [...output.matchAll(/^x-worker: (\d+)/gim)].map((match) => match[1]);
    // curl reuses its connection for the URLs of one invocation.
    const one = workersIn(await curl([url + 'a', url + 'b', url + 'c']));
    t.is(one.length, 3);
    t.is(new Set(one).size, 1, `answered by ${one}`);
    // --next resets the options: each URL after it gets its own. 'e' closes the connection, 'f' opens a new one.
    const two = workersIn(
      await curl([
        url + 'd',
        '--next',
        '-sS',
        '-D',
        '-',
        '-H',
        'Connection: close',
        url + 'e',
        '--next',
        '-sS',
        '-D',
        '-',
        url + 'f',
      ]),
    );
    t.is(two.length, 3);
    t.true(new Set(two).size >= 2, `answered by ${two}`);
    t.is(serving.dispatcher.stats().dropped, 0);
    await stopServing(serving);
    await assertNoFdLeak(t, before);
  },
);
