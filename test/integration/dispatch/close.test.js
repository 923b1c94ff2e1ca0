// Closing a dispatcher whose connections cannot reach a worker: connections waiting for a closed pool are
// closed (and counted as dropped) instead of waiting forever, and close({ timeoutMs }) gives up on those
// still waiting when its time is out, whether queued or still being read for route(). close() then
// resolves, every client sees its connection end, and the master holds no descriptor.
import test from 'ava';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { acceptAndDispatch } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { servePool, stopServing } from '../../helpers/http-load.js';
import { until, within } from '../../helpers/within.js';

/** A WorkerSet that never has a worker: whatever is accepted waits. */
class EmptySet extends EventEmitter {
  maxInFlight = 1;
  closed = false;
  start() {
    return Promise.resolve();
  }
  available() {
    return [];
  }
  demand() {}
}

/** A client connection and a promise of its end (close, with or without error). */
function connect(port, send) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  if (send !== undefined) socket.write(send);
  const ended = new Promise((resolve) => socket.once('close', resolve));
  return { socket, ended };
}

async function startEmpty(t, options = {}) {
  const set = new EmptySet();
  const dispatcher = await within(
    acceptAndDispatch({ listen: { host: '127.0.0.1', port: 0 }, pool: set, ...options }),
    'the dispatcher to start',
  );
  const drops = [];
  dispatcher.on('drop', ({ error }) => drops.push(error.code));
  t.teardown(() => {
    set.isClosed = true;
    set.emit('capacity');
    return dispatcher.close({ timeoutMs: 0 });
  });
  return { set, dispatcher, drops, port: dispatcher.address().port };
}

test.serial('connections waiting for a pool that closes are closed and dropped; close() then resolves', async (t) => {
  const before = openFdCount();
  const { set, dispatcher, drops, port } = await startEmpty(t);
  const clients = [connect(port), connect(port), connect(port)];
  await until(() => dispatcher.stats().pending === 3, 'three connections to wait for a worker');

  let closed = false;
  const closing = dispatcher.close().then(() => (closed = true));
  await new Promise((resolve) => setImmediate(resolve));
  t.false(closed, 'close() waits while the pool may still take them');
  t.is(dispatcher.stats().pending, 3);

  set.isClosed = true;
  set.emit('capacity');
  await within(closing, 'close() to resolve once the pool is closed');
  await within(Promise.all(clients.map((client) => client.ended)), 'every client to see its connection end');
  t.deepEqual(drops, ['ERR_PORTUNUS_POOL_CLOSED', 'ERR_PORTUNUS_POOL_CLOSED', 'ERR_PORTUNUS_POOL_CLOSED']);
  t.like(dispatcher.stats(), { accepted: 3, dropped: 3, pending: 0, handedOff: 0 });
  await assertNoFdLeak(t, before);
});

test.serial(
  'close({ timeoutMs }) closes what still waits when time is out: queued and being read for route()',
  async (t) => {
    const before = openFdCount();
    let routed = 0;
    const { dispatcher, drops, port } = await startEmpty(t, {
      route: () => {
        routed++;
        return undefined;
      },
      preRead: { timeoutMs: 60_000, complete: (bytes) => bytes.includes('\n') },
    });
    // One client sends a whole line (routed, then queued: no worker), one sends half a line (still being read).
    const queued = connect(port, 'GET /\n');
    const reading = connect(port, 'GET');
    await until(
      () => dispatcher.stats().pending === 1 && routed === 1 && dispatcher.stats().accepted === 2,
      'one queued, one being read',
    );

    await within(dispatcher.close({ timeoutMs: 100 }), 'close({ timeoutMs: 100 }) to give up');
    await within(Promise.all([queued.ended, reading.ended]), 'both clients to see their connection end');
    t.deepEqual(drops, ['ERR_PORTUNUS_CLOSE_TIMEOUT', 'ERR_PORTUNUS_CLOSE_TIMEOUT']);
    t.like(dispatcher.stats(), { accepted: 2, dropped: 2, pending: 0 });
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'close() throws synchronously for a timeoutMs that is not a non-negative integer, and stays open',
  async (t) => {
    const { dispatcher } = await startEmpty(t);
    for (const timeoutMs of [-1, 1.5]) {
      t.throws(() => dispatcher.close({ timeoutMs }), { code: 'ERR_INVALID_ARG_VALUE', message: /options\.timeoutMs/ });
    }
    // A string is the wrong type, not a wrong number (as everywhere in the API).
    t.throws(() => dispatcher.close({ timeoutMs: '100' }), {
      code: 'ERR_INVALID_ARG_TYPE',
      message: /options\.timeoutMs/,
    });
    t.true(typeof dispatcher.address().port === 'number');
  },
);

test.serial(
  'a real WorkerPool closed before the dispatcher: a connection accepted afterwards is closed, not kept',
  async (t) => {
    const before = openFdCount();
    const serving = await servePool(t, 'worker-http.js', { min: 1, max: 1 });
    const drops = [];
    serving.dispatcher.on('drop', ({ error }) => drops.push(error.code));
    await within(serving.pool.close(), 'the pool to close');
    const late = connect(serving.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await within(late.ended, 'the late client to see its connection end');
    t.deepEqual(drops, ['ERR_PORTUNUS_POOL_CLOSED']);
    await within(serving.dispatcher.close(), 'the dispatcher to close');
    await stopServing(serving);
    await assertNoFdLeak(t, before);
  },
);
