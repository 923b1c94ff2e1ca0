// acceptAndDispatch() can take over a net.Server that already listens: the same port keeps accepting (the
// socket is never closed in between) and connections go to the pool; closing the dispatcher releases it.
import test from 'ava';
import net from 'node:net';
import { WorkerPool, acceptAndDispatch } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { fixture, request, runLoad, servePool, stopServing, within } from '../../helpers/http-load.js';

function connectOutcome(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error) => resolve(error.code));
  });
}

test.serial('a listening net.Server passed as listen is taken over: its port is served by the pool', async (t) => {
  const before = openFdCount();
  let acceptedByServer = 0;
  const server = net.createServer((socket) => {
    acceptedByServer++;
    socket.destroy();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const { port } = server.address();

  const serving = await servePool(t, 'worker-http.js', { min: 2, max: 2 }, { listen: server });
  t.is(serving.port, port);
  t.false(server.listening, "Node's object was closed; the socket listens on in the dispatcher");
  const result = await runLoad(port, { total: 100, concurrency: 10 });
  t.deepEqual(result.errors, []);
  t.is(result.ok, 100);
  t.deepEqual(Object.keys(result.byWorker).sort(), ['1', '2']);
  t.is((await request(port)).status, 200);
  t.is(acceptedByServer, 0, 'the taken-over server accepted nothing itself');
  await stopServing(serving);
  // The dispatcher held the last descriptor of the listening socket: the port is closed now.
  t.is(await within(connectOutcome(port), 'a connection attempt'), 'ECONNREFUSED');
  await assertNoFdLeak(t, before);
});

test.serial('a server that does not listen is refused synchronously, and nothing is left open', async (t) => {
  const before = openFdCount();
  const pool = new WorkerPool({ args: [fixture('worker-http.js')], min: 0, max: 1, pingIntervalMs: 0 });
  t.teardown(() => pool.close());
  const error = t.throws(() => acceptAndDispatch({ listen: net.createServer(), pool }));
  t.is(error.code, 'ERR_PORTUNUS_UNSUPPORTED');
  await within(pool.close(), 'the pool to close');
  await assertNoFdLeak(t, before);
});
