// PROXY protocol on input, with HAProxy (Debian's package) on loopback in front: its send-proxy (v1) and
// send-proxy-v2 servers point at a portunus router with acceptProxyProtocol, and the worker that serves
// curl's request finds curl's own address and port in proxyHeaderOf(request.socket), for HTTP and for TLS
// (which the worker terminates). Without HAProxy: a dispatcher with acceptProxyProtocol hands the header to its
// worker too, and connections with no header, a malformed one or a late one are closed and counted.
// (The tcpmux server's PROXY input: tcpmux-proxy-protocol.test.js.)
import test from 'ava';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { acceptAndDispatch, serveRouter } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { within } from '../../helpers/http-load.js';
import { routedPool } from '../../helpers/routed-pool.js';
import { startHaproxy } from '../../helpers/haproxy.js';
import { makeCertificate } from '../../helpers/tls-certificate.js';

const run = promisify(execFile);
const HEAD_TIMEOUT_MS = 1500;

function curl(args) {
  return run('curl', ['--silent', '--show-error', '--max-time', '10', ...args], { timeout: 15_000 });
}

/** curl's answer (JSON) and the local port curl's connection had. */
async function curlWithPort(args) {
  const { stdout } = await curl([...args, '--write-out', '\n%{local_port}']);
  const lines = stdout.trimEnd().split('\n');
  return { answer: JSON.parse(lines.slice(0, -1).join('\n')), localPort: Number(lines.at(-1)) };
}

test.serial(
  'HAProxy send-proxy and send-proxy-v2 to a router: the worker sees curl as the client, over HTTP and TLS',
  async (t) => {
    const before = openFdCount();
    const cert = makeCertificate('alpha.test');
    t.teardown(cert.remove);
    const pools = {
      web: routedPool('web', 'http'),
      alpha: routedPool('alpha', 'https', { WORKER_TLS_KEY: cert.key, WORKER_TLS_CERT: cert.cert }),
    };
    const router = await within(
      serveRouter({
        listen: { host: '127.0.0.1', port: 0 },
        pools,
        routes: [
          { host: 'alpha.test', protocol: 'tls', to: 'alpha' },
          { protocol: 'http', to: 'web' },
        ],
        acceptProxyProtocol: true,
        headTimeoutMs: HEAD_TIMEOUT_MS,
      }),
      'the router to start',
      30_000,
    );
    const port = router.address().port;
    const haproxy = await startHaproxy(t, port, ['send-proxy', 'send-proxy-v2']);
    const [v1Port, v2Port] = haproxy.ports;
    for (const [frontend, version] of [
      [v1Port, 1],
      [v2Port, 2],
    ]) {
      const http = await curlWithPort([`http://127.0.0.1:${frontend}/who`]);
      t.like(http.answer, { name: 'web', url: '/who' });
      t.like(http.answer.proxy, {
        version,
        command: 'proxy',
        family: 'tcp4',
        sourceAddress: '127.0.0.1',
        sourcePort: http.localPort,
        destinationAddress: '127.0.0.1',
        destinationPort: frontend,
      });
      const https = await curlWithPort([
        '--cacert',
        cert.cert,
        '--resolve',
        `alpha.test:${frontend}:127.0.0.1`,
        `https://alpha.test:${frontend}/tls`,
      ]);
      t.like(https.answer, { name: 'alpha', serverName: 'alpha.test' });
      t.like(https.answer.proxy, { version, sourcePort: https.localPort, destinationPort: frontend });
    }
    // Straight to the router, past HAProxy: no header, so no service.
    const direct = await curl([`http://127.0.0.1:${port}/`]).catch((error) => error);
    t.true(direct instanceof Error, 'a connection without a PROXY header is closed');
    const stats = router.stats();
    t.is(stats.proxyProtocolErrors, 1);
    t.is(stats.routing.routed, 4);
    await haproxy.stop();
    await within(router.close(), 'the router to close');
    await Promise.all(Object.values(pools).map((p) => within(p.close(), 'a pool to close', 15_000)));
    await assertNoFdLeak(t, before);
  },
);

/** Sends `bytes` (and ends) on a fresh connection to `port`; resolves with what came back before the close. */
function exchange(port, bytes, { end = true } = {}) {
  return within(
    new Promise((done, fail) => {
      const socket = net.connect(port, '127.0.0.1');
      const chunks = [];
      socket.on('data', (chunk) => chunks.push(chunk));
      socket.on('error', fail);
      socket.on('close', () => done(Buffer.concat(chunks).toString('latin1')));
      if (bytes !== undefined) socket.write(bytes);
      if (end) socket.end();
    }),
    'the dispatcher to answer or close',
  );
}

test.serial(
  'a dispatcher with acceptProxyProtocol hands the header to its worker; missing, malformed and late ones are closed and counted',
  async (t) => {
    const before = openFdCount();
    const web = routedPool('web', 'http');
    const dispatcher = await within(
      acceptAndDispatch({
        listen: { host: '127.0.0.1', port: 0 },
        pool: web,
        acceptProxyProtocol: true,
        preRead: { timeoutMs: HEAD_TIMEOUT_MS },
      }),
      'the dispatcher to start',
      30_000,
    );
    const port = dispatcher.address().port;
    const drops = [];
    dispatcher.on('drop', ({ error }) => drops.push(error.code));
    const request = 'GET /x HTTP/1.1\r\nhost: example.test\r\nconnection: close\r\n\r\n';
    const answer = await exchange(port, `PROXY TCP6 2001:db8::7 2001:db8::1 40000 443\r\n${request}`);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    t.like(body, { name: 'web', url: '/x' });
    t.deepEqual(body.proxy, {
      version: 1,
      command: 'proxy',
      family: 'tcp6',
      sourceAddress: '2001:db8::7',
      sourcePort: 40000,
      destinationAddress: '2001:db8::1',
      destinationPort: 443,
    });
    t.is(await exchange(port, request), '', 'no header');
    t.is(await exchange(port, `PROXY TCP4 300.1.1.1 1.1.1.1 1 2\r\n${request}`), '', 'malformed');
    t.is(await exchange(port, 'PROXY TCP4 1.1.1.1', { end: false }), '', 'late: closed after the preRead deadline');
    t.is(await exchange(port, 'PROXY TCP4 1.1.1.1'), '', 'the client ended mid-header');
    t.is(dispatcher.stats().proxyProtocolErrors, 4);
    t.deepEqual(drops, Array(4).fill('ERR_PORTUNUS_PROXY_PROTOCOL'));
    await within(dispatcher.close(), 'the dispatcher to close');
    await within(web.close(), 'the pool to close', 15_000);
    await assertNoFdLeak(t, before);
  },
);
