// serveRouter(): one port, services chosen by TLS server name or HTTP Host and path, asked by real clients.
// curl reaches two TLS services, each terminating TLS with its own certificate (made by openssl for this run),
// and two HTTP services, by name (--resolve) on one port; unknown names get 421 or an unrecognized_name alert,
// a known host with an unknown path 404, a head over the limit 431, garbage 400, a slow client 408, and a
// service that asked for a PROXY header finds it in front of the request. The router runs in this process:
// its descriptor count is back where it was after each test.
import test from 'ava';
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { serveRouter } from '../../../dist/index.js';
import { decodeProxyHeader } from '../../../dist/dispatch/proxy-protocol.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { socketDirectory } from '../../helpers/generations.js';
import { within } from '../../helpers/http-load.js';
import { routedPool } from '../../helpers/routed-pool.js';
import { makeCertificate } from '../../helpers/tls-certificate.js';

const run = promisify(execFile);
const HEAD_TIMEOUT_MS = 1500;
const MAX_HEAD_BYTES = 4096;

const serving = {};

test.before(async () => {
  serving.alphaCert = makeCertificate('alpha.test');
  serving.betaCert = makeCertificate('beta.test');
  const certEnv = ({ key, cert }) => ({ WORKER_TLS_KEY: key, WORKER_TLS_CERT: cert });
  serving.pools = {
    alpha: routedPool('alpha', 'https', certEnv(serving.alphaCert)),
    beta: routedPool('beta', 'https', certEnv(serving.betaCert)),
    api: routedPool('api', 'http'),
    site: routedPool('site', 'http'),
    raw: routedPool('raw', 'raw'),
  };
  serving.router = await within(
    serveRouter({
      listen: { host: '127.0.0.1', port: 0 },
      pools: serving.pools,
      routes: [
        { host: 'alpha.test', protocol: 'tls', to: 'alpha' },
        { host: '*.beta.test', protocol: 'tls', to: 'beta' },
        { host: 'beta.test', protocol: 'tls', to: 'beta' },
        { host: 'alpha.test', protocol: 'http', pathPrefix: '/api', to: 'api' },
        { host: 'beta.test', protocol: 'http', to: 'site' },
        { host: 'raw.test', protocol: 'http', to: 'raw', sendProxyProtocol: 1 },
        { host: 'raw2.test', protocol: 'http', to: 'raw', sendProxyProtocol: 2 },
      ],
      maxHeadBytes: MAX_HEAD_BYTES,
      headTimeoutMs: HEAD_TIMEOUT_MS,
    }),
    'the router to start',
    30_000,
  );
  serving.port = serving.router.address().port;
});

test.after.always(async () => {
  await serving.router?.close({ timeoutMs: 5000 });
  await Promise.all(Object.values(serving.pools ?? {}).map((p) => within(p.close(), 'a pool to close', 15_000)));
  serving.alphaCert?.remove();
  serving.betaCert?.remove();
});

function curl(args) {
  return run('curl', ['--silent', '--show-error', '--max-time', '10', ...args], { timeout: 15_000 });
}

const resolve = (host) => ['--resolve', `${host}:${serving.port}:127.0.0.1`];

/** Writes `bytes` on a fresh connection (optionally ending its side) and resolves with all it answered. */
function exchange(bytes, { end = true } = {}) {
  return within(
    new Promise((done, fail) => {
      const socket = net.connect(serving.port, '127.0.0.1');
      const chunks = [];
      socket.on('data', (chunk) => chunks.push(chunk));
      socket.on('error', fail);
      socket.on('close', () => done(Buffer.concat(chunks).toString('latin1')));
      if (bytes !== undefined) socket.write(bytes);
      if (end) socket.end();
    }),
    'the router to answer and close',
    10_000,
  );
}

test.serial('curl over TLS reaches two services by server name, each with its own certificate', async (t) => {
  const before = openFdCount();
  for (const [host, name, ca] of [
    ['alpha.test', 'alpha', serving.alphaCert.cert],
    ['beta.test', 'beta', serving.betaCert.cert],
    ['alpha.test', 'alpha', serving.alphaCert.cert],
    ['beta.test', 'beta', serving.betaCert.cert],
  ]) {
    const { stdout } = await curl(['--cacert', ca, ...resolve(host), `https://${host}:${serving.port}/hello`]);
    const answer = JSON.parse(stdout);
    t.is(answer.name, name);
    t.is(answer.serverName, host, 'the service, not the router, terminated TLS for this name');
    t.is(answer.url, '/hello');
  }
  // The wrong certificate for the name: curl refuses it, so each service really used its own.
  await t.throwsAsync(
    curl(['--cacert', serving.betaCert.cert, ...resolve('alpha.test'), `https://alpha.test:${serving.port}/`]),
  );
  t.true(serving.router.stats().routing.routed >= 5);
  await assertNoFdLeak(t, before);
});

test.serial(
  'curl over HTTP reaches two services by Host and path; unknown paths get 404, unknown hosts 421',
  async (t) => {
    const before = openFdCount();
    const api = JSON.parse(
      (await curl([...resolve('alpha.test'), `http://alpha.test:${serving.port}/api/items?x=1`])).stdout,
    );
    t.like(api, { name: 'api', host: `alpha.test:${serving.port}`, url: '/api/items?x=1' });
    const site = JSON.parse((await curl([...resolve('beta.test'), `http://beta.test:${serving.port}/`])).stdout);
    t.like(site, { name: 'site', url: '/' });
    const counters = serving.router.stats().routing;
    const status = async (host, path) =>
      (
        await curl([
          '--output',
          '/dev/null',
          '--write-out',
          '%{http_code}',
          ...resolve(host),
          `http://${host}:${serving.port}${path}`,
        ])
      ).stdout;
    t.is(await status('alpha.test', '/apix'), '404', 'a path prefix matches whole segments');
    t.is(await status('alpha.test', '/'), '404');
    t.is(await status('gamma.test', '/api'), '421');
    const after = serving.router.stats().routing;
    t.is(after.notFound - counters.notFound, 2);
    t.is(after.misdirected - counters.misdirected, 1);
    await assertNoFdLeak(t, before);
  },
);

test.serial('an unknown TLS server name, or none, gets an unrecognized_name alert', async (t) => {
  const before = openFdCount();
  const failure = await t.throwsAsync(
    curl(['--cacert', serving.alphaCert.cert, ...resolve('gamma.test'), `https://gamma.test:${serving.port}/`]),
  );
  t.regex(failure.stderr, /unrecognized name/i);
  for (const servername of ['delta.test', undefined]) {
    const error = await within(
      new Promise((done) => {
        const socket = tls.connect({ host: '127.0.0.1', port: serving.port, servername, rejectUnauthorized: false });
        socket.on('secureConnect', () => done(new Error('handshake completed')));
        socket.on('error', done);
      }),
      'the alert',
    );
    t.is(error.code, 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME', String(servername));
  }
  t.true(serving.router.stats().routing.unrecognizedName >= 3);
  await assertNoFdLeak(t, before);
});

test.serial('a head over maxHeadBytes gets 431, garbage 400, a half-sent head 400', async (t) => {
  const before = openFdCount();
  const big = `GET / HTTP/1.1\r\nhost: beta.test\r\nx-filler: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`;
  t.regex(await exchange(big, { end: false }), /^HTTP\/1\.1 431 /);
  // Sent in one piece but still too long, with a whole head: 431 too.
  t.regex(
    await exchange(`GET / HTTP/1.1\r\nhost: beta.test\r\nx: ${'b'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`),
    /^HTTP\/1\.1 431 /,
  );
  t.regex(await exchange(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0a]), { end: false }), /^HTTP\/1\.1 400 /);
  t.regex(await exchange('GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n'), /^HTTP\/1\.1 400 /, 'two Host headers');
  t.regex(await exchange('GET / HTTP/1.1\r\nhost: beta'), /^HTTP\/1\.1 400 /, 'the client ended mid-head');
  // A ClientHello that is not one: a decode_error alert (21 = alert, 2 = fatal, 50 = decode_error).
  const alert = Buffer.from(
    await exchange(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x02, 0, 0, 1, 0]), { end: false }),
    'latin1',
  );
  t.deepEqual([...alert], [21, 3, 1, 0, 2, 2, 50]);
  const counters = serving.router.stats().routing;
  t.true(counters.tooLarge >= 2 && counters.badRequest >= 4);
  await assertNoFdLeak(t, before);
});

test.serial(
  'a slow client gets 408 when headTimeoutMs passes; a silent one is closed; others are served meanwhile',
  async (t) => {
    const before = openFdCount();
    const slow = exchange('GET /api HTTP/1.1\r\nhost: alp', { end: false });
    const silent = exchange(undefined, { end: false });
    // Served while the slow ones hold their connections.
    const site = JSON.parse((await curl([...resolve('beta.test'), `http://beta.test:${serving.port}/`])).stdout);
    t.is(site.name, 'site');
    t.regex(await slow, /^HTTP\/1\.1 408 /);
    t.is(await silent, '');
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'a route with sendProxyProtocol puts a v1 or v2 header naming the client in front of the request',
  async (t) => {
    const before = openFdCount();
    for (const [host, version] of [
      ['raw.test', 1],
      ['raw2.test', 2],
    ]) {
      const { stdout } = await curl([...resolve(host), `http://${host}:${serving.port}/path`]);
      const seen = Buffer.from(JSON.parse(stdout).bytes, 'base64');
      const decoded = decodeProxyHeader(seen);
      t.like(decoded.header, {
        version,
        command: 'proxy',
        family: 'tcp4',
        sourceAddress: '127.0.0.1',
        destinationAddress: '127.0.0.1',
        destinationPort: serving.port,
      });
      t.true(decoded.header.sourcePort > 0 && decoded.header.sourcePort !== serving.port);
      t.regex(seen.subarray(decoded.length).toString('latin1'), /^GET \/path HTTP\/1\.1\r\nHost: raw2?\.test:/);
    }
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'on a Unix listener (read through a net.Socket, not peeked) the PROXY header goes in front of the bytes read',
  async (t) => {
    const before = openFdCount();
    const socketPath = path.join(socketDirectory(t), 'router.sock');
    const raw = routedPool('raw-unix', 'raw');
    t.teardown(() => raw.close());
    const router = await within(
      serveRouter({
        listen: { path: socketPath },
        pools: { raw },
        routes: [
          { host: 'raw.test', protocol: 'http', to: 'raw', sendProxyProtocol: 1 },
          { host: 'raw2.test', protocol: 'http', to: 'raw', sendProxyProtocol: 2 },
        ],
      }),
      'the Unix router to start',
      30_000,
    );
    for (const [host, version] of [
      ['raw.test', 1],
      ['raw2.test', 2],
    ]) {
      const { stdout } = await curl(['--unix-socket', socketPath, `http://${host}/path`]);
      const seen = Buffer.from(JSON.parse(stdout).bytes, 'base64');
      const decoded = decodeProxyHeader(seen);
      // A Unix connection has no IP addresses to name: v1 says UNKNOWN, v2 is a LOCAL header.
      t.like(decoded.header, { version });
      t.is(decoded.header.sourceAddress, undefined);
      t.regex(seen.subarray(decoded.length).toString('latin1'), /^GET \/path HTTP\/1\.1\r\nHost: raw2?\.test\r\n/);
    }
    t.like(router.stats(), { handedOff: 2, dropped: 0, routing: { routed: 2 } });
    await router.close();
    await within(raw.close(), 'the pool to close', 15_000);
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'hundreds of clients that connect and close, or reset mid-head, leave the router serving and its descriptors as they were',
  async (t) => {
    const before = openFdCount();
    const dropped = serving.router.stats().dropped;
    const clients = [];
    for (let i = 0; i < 400; i++)
      clients.push(
        new Promise((resolve) => {
          const socket = net.connect(serving.port, '127.0.0.1');
          socket.on('error', resolve);
          socket.on('close', resolve);
          socket.on('connect', () => {
            if (i % 2 === 0) socket.end();
            else {
              socket.write('GET /api HTTP/1.1\r\nhost: al');
              socket.resetAndDestroy();
            }
          });
        }),
      );
    await within(Promise.all(clients), 'the clients to finish', 30_000);
    const site = JSON.parse((await curl([...resolve('beta.test'), `http://beta.test:${serving.port}/`])).stdout);
    t.is(site.name, 'site');
    // Every one of them ends as a dropped connection, none is handed to a service.
    await within(
      (async () => {
        while (serving.router.stats().dropped - dropped < 400) await new Promise((r) => setTimeout(r, 20));
      })(),
      'the router to let go of every client',
      15_000,
    );
    t.is(serving.router.stats().dropped - dropped, 400);
    await assertNoFdLeak(t, before);
  },
);
