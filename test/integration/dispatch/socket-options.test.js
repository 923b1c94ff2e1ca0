// A connection a worker adopts gets what net.Server gives each connection it accepts: the server's noDelay
// (TCP_NODELAY; true for every http.Server) and keepAlive options. Without them a response written in
// parts waits on Nagle's algorithm, as it would not under cluster or a plain listen(). Both ways a
// connection reaches a worker: handed off by the dispatcher, and accepted from a shared listener.
import test from 'ava';
import { WorkerPool, serveListeners } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { fixture, request, servePool, stopServing, within } from '../../helpers/http-load.js';

const EXPECTED = { setNoDelay: [true], setKeepAlive: [true, 3000] };

test.serial('a handed-off connection gets the server noDelay and keepAlive options', async (t) => {
  const before = openFdCount();
  const serving = await servePool(t, 'worker-socket-options.js', { min: 1, max: 1 });
  const answer = await within(request(serving.port), 'an answer');
  t.is(answer.status, 200);
  t.deepEqual(answer.json, EXPECTED);
  await stopServing(serving);
  await assertNoFdLeak(t, before);
});

test.serial('a connection accepted from a shared listener gets the server noDelay and keepAlive options', async (t) => {
  const before = openFdCount();
  const pool = new WorkerPool({
    args: [fixture('worker-socket-options.js')],
    min: 1,
    max: 1,
    pingIntervalMs: 0,
    drainTimeoutMs: 2000,
  });
  const server = await within(
    serveListeners({ listen: { host: '127.0.0.1', port: 0 }, pool, mode: 'shared' }),
    'serveListeners()',
    20_000,
  );
  t.teardown(() => Promise.allSettled([server.close(), pool.close()]));
  const answer = await within(request(server.address().port), 'an answer');
  t.is(answer.status, 200);
  t.deepEqual(answer.json, EXPECTED);
  await server.close();
  await within(pool.close(), 'the pool to close', 15_000);
  await assertNoFdLeak(t, before);
});
