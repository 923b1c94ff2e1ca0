// The routing use: the sender reads an HTTP request head, hands the connection over with the bytes it read,
// and a plain http.Server in the child (server.emit('connection', socket)) answers as if it had read the
// request itself. Clients: Node's http.request, and curl making two requests on one kept-alive connection.
import test from 'ava';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { distributeTransport } from '../../../dist/index.js';
import { BACKENDS, listening, startPeer, within } from '../../helpers/backends.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';

const SERVE = 'transport-adopt-and-serve';
const run = promisify(execFile);

/**
 * A front server that reads each connection's request head and hands the connection, with every byte read,
 * to the child. Returns the server and the handoffs it started.
 */
async function headReadingFront(peer) {
  const server = await listening('127.0.0.1');
  const handoffs = [];
  server.on('connection', (socket) => {
    socket.on('error', () => {});
    const chunks = [];
    socket.on('data', function onData(chunk) {
      chunks.push(chunk);
      const bytes = Buffer.concat(chunks);
      if (!bytes.includes('\r\n\r\n')) return;
      socket.pause();
      socket.off('data', onData);
      handoffs.push(distributeTransport(peer.channel, socket, { preRead: bytes, metadata: { mode: 'http' } }));
    });
  });
  return { server, handoffs };
}

for (const backend of BACKENDS) {
  test.serial(
    `an HTTP request whose head the sender read is answered by an http.Server in the child (${backend})`,
    async (t) => {
      const before = openFdCount();
      const peer = await startPeer(t, backend, SERVE);
      const { server, handoffs } = await headReadingFront(peer);
      const body = 'field=value&other=' + 'x'.repeat(5000);
      const response = await within(
        new Promise((resolve, reject) => {
          const request = http.request(
            {
              port: server.address().port,
              host: '127.0.0.1',
              method: 'POST',
              path: '/submit?x=1',
              headers: { 'x-portunus': 'yes' },
              agent: false,
            },
            (res) => {
              const chunks = [];
              res.on('data', (chunk) => chunks.push(chunk));
              res.on('end', () =>
                resolve({ status: res.statusCode, json: JSON.parse(Buffer.concat(chunks).toString()) }),
              );
              res.on('error', reject);
            },
          );
          request.on('error', reject);
          request.end(body);
        }),
        'the HTTP response',
      );
      t.is(response.status, 200);
      t.is(response.json.pid, peer.pid, 'the child answered');
      t.is(response.json.method, 'POST');
      t.is(response.json.url, '/submit?x=1');
      t.is(response.json.headers['x-portunus'], 'yes');
      t.is(response.json.body, body);
      t.is(handoffs.length, 1);
      const handoff = await handoffs[0];
      const adopted = await peer.take('adopted', (report) => report.id === handoff.id);
      t.true(adopted.preRead.startsWith('POST /submit?x=1 HTTP/1.1\r\n'));
      server.close();
      await peer.stop();
      await assertNoFdLeak(t, before);
    },
  );

  test.serial(`curl: two requests on one kept-alive connection, both answered by the child (${backend})`, async (t) => {
    const before = openFdCount();
    const peer = await startPeer(t, backend, SERVE);
    const { server, handoffs } = await headReadingFront(peer);
    let connections = 0;
    server.on('connection', () => connections++);
    const base = `http://127.0.0.1:${server.address().port}`;
    const { stdout, stderr } = await within(
      run('curl', [
        '--silent',
        '--show-error',
        '--http1.1',
        '--max-time',
        '10',
        '-H',
        'X-Portunus: curl',
        `${base}/first`,
        `${base}/second?q=2`,
      ]),
      'curl',
      15_000,
    );
    t.is(stderr, '');
    const answers = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    t.deepEqual(
      answers.map((answer) => [answer.pid, answer.url, answer.headers['x-portunus']]),
      [
        [peer.pid, '/first', 'curl'],
        [peer.pid, '/second?q=2', 'curl'],
      ],
    );
    t.is(connections, 1, 'curl reused its connection: the second request went to the child directly');
    await Promise.all(handoffs);
    server.close();
    await peer.stop();
    await assertNoFdLeak(t, before);
  });
}
