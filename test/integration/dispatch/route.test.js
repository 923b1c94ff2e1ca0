// route() with a pre-read: the master reads the start of each connection, picks a named pool by the HTTP
// Host header, and the bytes it read travel with the socket, so the worker parses the request from its
// first byte. A client silent past the pre-read deadline is routed with what it sent (nothing) and served.
import test from 'ava';
import net from 'node:net';
import { WorkerPool, acceptAndDispatch } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { fixture, request, stopServing, within } from '../../helpers/http-load.js';

function hostOf(bytes) {
  return /\r\nhost:\s*([^\r\n]*)/i.exec(bytes.toString('latin1'))?.[1];
}

async function serveRouted(t, preRead, seen) {
  const makePool = (name) =>
    new WorkerPool({
      args: [fixture('worker-http.js')],
      min: 1,
      max: 1,
      pingIntervalMs: 0,
      drainTimeoutMs: 2000,
      env: { WORKER_POOL_NAME: name },
    });
  const api = makePool('api');
  const web = makePool('web');
  const serving = { api, web, dispatcher: undefined };
  t.teardown(async () => {
    await stopServing({ dispatcher: serving.dispatcher, pool: api }).catch(() => {});
    await within(web.close(), 'the web pool to close', 15_000).catch(() => {});
  });
  serving.dispatcher = await within(
    acceptAndDispatch({
      listen: { host: '127.0.0.1', port: 0 },
      pool: { api, web },
      preRead,
      route: (preview) => {
        seen(preview);
        // Nothing read yet: the web pool takes it.
        return hostOf(preview.bytes)?.startsWith('api.') ? 'api' : 'web';
      },
    }),
    'the dispatcher to start',
    20_000,
  );
  serving.port = serving.dispatcher.address().port;
  return serving;
}

test.serial('a Host-based route sends each request to its pool, and the worker sees the whole request', async (t) => {
  const before = openFdCount();
  const previews = [];
  const serving = await serveRouted(t, { maxBytes: 256, timeoutMs: 10_000, complete: () => false }, (preview) =>
    previews.push(preview),
  );
  // complete() never satisfied and bodies longer than maxBytes: the pre-read stops at maxBytes, well before
  // its deadline.
  const body = (seed) => Array.from({ length: 200 }, (_, i) => `${seed}:${i};`).join('');
  const asks = [];
  for (let i = 0; i < 20; i++) {
    const host = i % 2 === 0 ? 'api.example.test' : 'www.example.test';
    asks.push(
      request(serving.port, { method: 'POST', path: `/item/${i}`, headers: { host }, body: body(i) }).then(
        (answer) => ({ i, host, answer }),
      ),
    );
  }
  for (const { i, host, answer } of await Promise.all(asks)) {
    t.is(answer.status, 200);
    t.is(answer.json.pool, host.startsWith('api.') ? 'api' : 'web');
    t.is(answer.json.host, host);
    t.is(answer.json.url, `/item/${i}`);
    t.is(answer.json.body, body(i), 'the body arrived whole, pre-read bytes first');
  }
  t.is(previews.length, 20);
  t.true(previews.every((p) => !p.timedOut && !p.ended && p.bytes.length >= 256 && p.remoteAddress === '127.0.0.1'));
  t.is(serving.dispatcher.stats().dropped, 0);
  await stopServing({ dispatcher: serving.dispatcher, pool: serving.api });
  await within(serving.web.close(), 'the web pool to close', 15_000);
  await assertNoFdLeak(t, before);
});

test.serial(
  'a client that sends nothing until after the pre-read deadline is routed (timedOut) and served',
  async (t) => {
    const before = openFdCount();
    let routedSilent;
    const silentRouted = new Promise((resolve) => {
      routedSilent = resolve;
    });
    const serving = await serveRouted(t, { maxBytes: 4096, timeoutMs: 300 }, (preview) => {
      if (preview.bytes.length === 0) routedSilent(preview);
    });
    const client = net.connect(serving.port, '127.0.0.1');
    t.teardown(() => client.destroy());
    const chunks = [];
    client.on('data', (chunk) => chunks.push(chunk));
    const ended = new Promise((resolve, reject) => {
      client.on('end', resolve);
      client.on('error', reject);
    });
    const preview = await within(silentRouted, 'route() to see the silent connection');
    t.true(preview.timedOut);
    t.false(preview.ended);
    // Only now does the client speak. Its Host says api, but it was routed (to web) before a byte arrived.
    client.end('GET /late HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\n\r\n');
    await within(ended, 'the answer');
    const response = Buffer.concat(chunks).toString();
    t.regex(response, /^HTTP\/1\.1 200 /);
    const answer = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
    t.is(answer.pool, 'web');
    t.is(answer.url, '/late');
    t.is(answer.host, 'api.example.test');
    // A short request head (below maxBytes) is routed by what arrived at the deadline: here its Host.
    const short = await request(serving.port, { headers: { host: 'api.example.test' } });
    t.is(short.json.pool, 'api');
    await stopServing({ dispatcher: serving.dispatcher, pool: serving.api });
    await within(serving.web.close(), 'the web pool to close', 15_000);
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'by default route() runs on the first bytes: a short GET is routed long before the pre-read deadline',
  async (t) => {
    const before = openFdCount();
    const previews = [];
    // A 60 s deadline: were route() to wait for maxBytes or the deadline, these requests would time out below.
    const serving = await serveRouted(t, { maxBytes: 4096, timeoutMs: 60_000 }, (preview) => previews.push(preview));
    const answers = await within(
      Promise.all([
        request(serving.port, { path: '/a', headers: { host: 'api.example.test' } }),
        request(serving.port, { path: '/b', headers: { host: 'www.example.test' } }),
      ]),
      'short requests to be routed and answered',
      15_000,
    );
    t.deepEqual(
      answers.map((answer) => answer.json.pool),
      ['api', 'web'],
    );
    t.true(previews.every((p) => !p.timedOut && p.bytes.length > 0 && p.bytes.length < 4096));
    await stopServing({ dispatcher: serving.dispatcher, pool: serving.api });
    await serving.web.close();
    await assertNoFdLeak(t, before);
  },
);
