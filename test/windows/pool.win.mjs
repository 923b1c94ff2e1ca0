// A WorkerPool under node.exe: each worker gets its channel as an inherited pipe handle
// (PORTUNUS_CHANNEL_FD is the handle's value), and serveListeners() hands the master's listening socket to
// every worker, duplicated for the worker's pid as the spawn reported it.
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WorkerPool, acceptAndDispatch, serveListeners } from '../../dist/index.js';
import { handlesBackTo, handlesNow, nextEvent, within } from './helpers.mjs';

export { warmUp } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const worker = path.join(here, '..', '..', 'examples', 'http-pool', 'worker.js');

function get(port) {
  return within(
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/windows', agent: false }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk) => (body += chunk));
          response.on('end', () => resolve(body));
        })
        .on('error', reject);
    }),
    'an HTTP answer',
  );
}

export const tests = [
  {
    name: 'serveListeners(): two workers accept from the master listening socket and answer HTTP',
    async run(t) {
      const before = handlesNow();
      const pool = new WorkerPool({ args: [worker], min: 2, max: 2, stdio: 'ignore' });
      t.teardown(() => pool.close());
      const server = await serveListeners({ listen: { port: 0, host: '127.0.0.1' }, pool });
      const shared = new Set();
      while (shared.size < 2) shared.add((await nextEvent(server, 'share'))[0]);
      t.deepEqual(new Set(pool.workers), shared);
      const pids = new Set(pool.workers.map((w) => w.pid));
      const { port } = server.address();
      for (let i = 0; i < 4; i++) {
        const body = await get(port);
        t.match(body, /^hello from worker \d+ \(pid (\d+)\): GET \/windows\n$/);
        t.ok(pids.has(Number(/pid (\d+)/.exec(body)[1])), `answered by a pool worker: ${body}`);
      }
      await server.close();
      await pool.close();
      await handlesBackTo(t, before);
    },
  },
  {
    name: 'acceptAndDispatch(): the master accepts natively and hands each connection to a worker',
    async run(t) {
      const before = handlesNow();
      const pool = new WorkerPool({ args: [worker], min: 2, max: 2, stdio: 'ignore' });
      t.teardown(() => pool.close());
      const dispatcher = await acceptAndDispatch({ listen: { port: 0, host: '127.0.0.1' }, pool });
      const { port } = dispatcher.address();
      const pids = () => new Set(pool.workers.map((w) => w.pid));
      for (let i = 0; i < 6; i++) {
        const body = await get(port);
        t.match(body, /^hello from worker \d+ \(pid (\d+)\): GET \/windows\n$/);
        t.ok(pids().has(Number(/pid (\d+)/.exec(body)[1])), `answered by a pool worker: ${body}`);
      }
      await dispatcher.close();
      await pool.close();
      await handlesBackTo(t, before);
    },
  },
];
