// adoptConnections() feeds handed-off connections to any net.Server as 'connection' events, so TLS and
// HTTP/2 servers work in workers unchanged: https, HTTP/2 over TLS (ALPN) and cleartext HTTP/2, each asked
// by curl (a real client, one connection per request) through a dispatching master with two workers.
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { servePool, stopServing, waitFor } from '../../helpers/http-load.js';
import { makeCertificate } from '../../helpers/tls-certificate.js';

const run = promisify(execFile);
const REQUESTS = 6;

const KINDS = {
  https: { scheme: 'https', curl: ['--http1.1'], version: '1.1' },
  'http2-secure': { scheme: 'https', curl: ['--http2'], version: '2.0' },
  http2: { scheme: 'http', curl: ['--http2-prior-knowledge'], version: '2.0' },
};

for (const [kind, { scheme, curl, version }] of Object.entries(KINDS)) {
  test.serial(`workers running a ${kind} server answer every request, both of them`, async (t) => {
    const before = openFdCount();
    const { key, cert, remove } = makeCertificate('localhost');
    t.teardown(remove);
    const serving = await servePool(t, 'worker-any-server.js', {
      min: 2,
      max: 2,
      env: { WORKER_SERVER: kind, WORKER_TLS_KEY: key, WORKER_TLS_CERT: cert },
    });
    const url = `${scheme}://localhost:${serving.port}/`;
    const pids = new Set();
    for (let i = 0; i < REQUESTS; i++) {
      const { stdout } = await run('curl', [
        '-sS',
        '--max-time',
        '10',
        ...curl,
        '--cacert',
        cert,
        '--resolve',
        `localhost:${serving.port}:127.0.0.1`,
        url,
      ]);
      const [servedBy, pid, httpVersion] = stdout.split(' ');
      t.is(servedBy, kind);
      t.is(httpVersion, version, `negotiated HTTP/${version}`);
      pids.add(pid);
    }
    t.is(pids.size, 2, 'both workers served (round-robin over new connections)');
    await waitFor(() => serving.dispatcher.stats().inFlight === 0, 'the last acknowledgements');
    t.like(serving.dispatcher.stats(), { accepted: REQUESTS, handedOff: REQUESTS, dropped: 0 });
    await stopServing(serving);
    await assertNoFdLeak(t, before);
  });
}
