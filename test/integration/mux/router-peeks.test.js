// The router reads by peeking (src/dispatch/peek-preview.ts): the ClientHello or request head stays in the
// kernel, and the worker reads it itself. What that takes care of, each with a client that makes it matter:
// a ClientHello in pieces with pauses (waiting with SO_RCVLOWAT: the connection routes, and the master peeks
// once per arrival, not in a loop), a client that half-closes mid-head (the FIN still wakes the poll) or
// resets (dropped and counted), a PROXY v2 header in the same write as the ClientHello or in a write of its
// own (consumed exactly: the worker's TLS handshake works), and SO_RCVLOWAT back at 1 in the worker (Python's
// getsockopt on the adopted socket). The router runs in this process: its descriptor count is back after each test.
import test from 'ava';
import net from 'node:net';
import { WorkerPool, acceptAndDispatch, serveRouter } from '../../../dist/index.js';
import { fdBackend } from '../../../dist/binding/index.js';
import { encodeProxyHeader } from '../../../dist/dispatch/proxy-protocol.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { fixture, nextEvent, within } from '../../helpers/http-load.js';
import { routedPool } from '../../helpers/routed-pool.js';
import { findPython, startPythonPeer } from '../../helpers/python-peer.js';
import { makeCertificate } from '../../helpers/tls-certificate.js';

/** Long enough that a test that waits for it fails on `within` first: nothing here may end by the deadline. */
const HEAD_TIMEOUT_MS = 30_000;
const python = findPython('import ssl; ssl.MemoryBIO');

async function startRouter(t, options = {}) {
  const cert = makeCertificate('alpha.test');
  t.teardown(cert.remove);
  const pools = { alpha: routedPool('alpha', 'https', { WORKER_TLS_KEY: cert.key, WORKER_TLS_CERT: cert.cert }) };
  const router = await within(
    serveRouter({
      listen: { host: '127.0.0.1', port: 0 },
      pools,
      routes: [{ host: 'alpha.test', protocol: 'tls', to: 'alpha' }],
      headTimeoutMs: HEAD_TIMEOUT_MS,
      ...options,
    }),
    'the router to start',
    30_000,
  );
  return {
    router,
    cert,
    port: router.address().port,
    stop: async () => {
      await within(router.close({ timeoutMs: 2000 }), 'the router to close');
      await within(pools.alpha.close(), 'the pool to close', 15_000);
    },
  };
}

/** The Python TLS client: its ClientHello in `pieces` writes `pause` s apart; resolves with the HTTP response. */
async function trickle(t, port, cert, pieces, pause, proxy = '', proxyWrite = 'together') {
  const peer = startPythonPeer(t, python, [
    fixture('python-tls-trickle.py'),
    String(port),
    'alpha.test',
    cert.cert,
    String(pieces),
    String(pause),
    proxy,
    proxyWrite,
  ]);
  const { text } = await peer.event('response');
  await peer.exited();
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
}

/** Writes `bytes`, waits `pauseMs`, then `then(socket)`; resolves with what came back before the close. */
function partialHead(port, bytes, pauseMs, then) {
  return within(
    new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      const chunks = [];
      socket.on('data', (chunk) => chunks.push(chunk));
      socket.on('error', () => {});
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      socket.write(bytes, () => setTimeout(() => then(socket), pauseMs));
    }),
    'the router to answer or close',
  );
}

const pythonTest = python === undefined ? test.serial.skip : test.serial;

pythonTest('a ClientHello sent in five pieces over two seconds is routed, and the router does not spin', async (t) => {
  const before = openFdCount();
  const serving = await startRouter(t);
  // Every look at the connection is one peek: count them (the router runs in this process).
  const peeking = fdBackend.peeking;
  const peek = peeking.peek;
  let peeks = 0;
  peeking.peek = (...args) => {
    peeks++;
    return peek(...args);
  };
  let answer;
  try {
    answer = await trickle(t, serving.port, serving.cert, 5, 0.5);
  } finally {
    peeking.peek = peek;
  }
  t.like(answer, { name: 'alpha', serverName: 'alpha.test', url: '/trickle' });
  // A poll woken by the bytes it already peeked would peek again and again for the whole two seconds (tens of
  // thousands of times); waiting with SO_RCVLOWAT, the router looks once at accept and once per arrival.
  t.log(`${peeks} peeks for a ClientHello in 5 pieces`);
  t.true(peeks <= 20, `${peeks} peeks for a ClientHello in 5 pieces`);
  t.is(serving.router.stats().routing.routed, 1);
  await serving.stop();
  await assertNoFdLeak(t, before);
});

test.serial('a client that half-closes mid-head gets its 400 at once, not at the head deadline', async (t) => {
  const before = openFdCount();
  const serving = await startRouter(t);
  // The pause lets the router peek at the partial head and wait for more before the FIN comes.
  const answer = await partialHead(serving.port, 'GET / HTTP/1.1\r\nhost: alp', 300, (socket) => socket.end());
  t.regex(answer, /^HTTP\/1\.1 400 /);
  await serving.stop();
  await assertNoFdLeak(t, before);
});

test.serial('a client that resets mid-preview is dropped and counted at once; the router serves on', async (t) => {
  const before = openFdCount();
  const serving = await startRouter(t);
  const dropped = nextEvent(serving.router.dispatcher, 'drop', 'the reset connection to be dropped');
  await partialHead(serving.port, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), 300, (socket) =>
    socket.resetAndDestroy(),
  );
  const [{ error }] = await dropped;
  t.is(error.code, 'ECONNRESET');
  t.is(serving.router.dispatcher.stats().dropped, 1);
  if (python !== undefined) {
    const answer = await trickle(t, serving.port, serving.cert, 1, 0);
    t.like(answer, { name: 'alpha' });
  }
  await serving.stop();
  await assertNoFdLeak(t, before);
});

pythonTest(
  'a PROXY v2 header is consumed exactly, in the ClientHello’s write or a write of its own, and reaches the worker',
  async (t) => {
    const before = openFdCount();
    const serving = await startRouter(t, { acceptProxyProtocol: true });
    const header = encodeProxyHeader(2, {
      sourceAddress: '192.0.2.7',
      sourcePort: 4242,
      destinationAddress: '192.0.2.1',
      destinationPort: 443,
    }).toString('hex');
    for (const [pieces, pause, write] of [
      [1, 0, 'together'],
      [1, 0.3, 'apart'],
      [3, 0.2, 'apart'],
    ]) {
      const answer = await trickle(t, serving.port, serving.cert, pieces, pause, header, write);
      t.like(answer, { name: 'alpha', serverName: 'alpha.test' }, `${pieces} piece(s), header ${write}`);
      t.like(answer.proxy, { version: 2, sourceAddress: '192.0.2.7', sourcePort: 4242, destinationPort: 443 });
    }
    t.is(serving.router.stats().proxyProtocolErrors, 0);
    await serving.stop();
    await assertNoFdLeak(t, before);
  },
);

const probePython = findPython('import socket; socket.SO_RCVLOWAT');
(probePython === undefined ? test.serial.skip : test.serial)(
  'SO_RCVLOWAT is back at 1 on the socket the worker adopts, after a head that came in pieces',
  async (t) => {
    const before = openFdCount();
    const workers = new WorkerPool({
      args: [fixture('worker-report-rcvlowat.js')],
      env: { PYTHON: probePython },
      min: 1,
      max: 1,
      pingIntervalMs: 0,
      drainTimeoutMs: 2000,
    });
    const dispatcher = await within(
      acceptAndDispatch({
        listen: { host: '127.0.0.1', port: 0 },
        pool: workers,
        route: () => undefined,
        preRead: { timeoutMs: HEAD_TIMEOUT_MS, complete: (bytes) => bytes.includes('\r\n\r\n') },
      }),
      'the dispatcher to start',
      30_000,
    );
    const parts = ['GET / HTTP/1.1\r\n', 'host: a.test\r\n', 'x-pad: 0123456789\r\n', '\r\n'];
    const response = await partialHead(dispatcher.address().port, parts[0], 200, async (socket) => {
      for (const part of parts.slice(1)) {
        socket.write(part);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    });
    t.deepEqual(JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)), { rcvlowat: 1 });
    await within(dispatcher.close(), 'the dispatcher to close');
    await within(workers.close(), 'the pool to close', 15_000);
    await assertNoFdLeak(t, before);
  },
);
