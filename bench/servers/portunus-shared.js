// Setup "portunus shared": serveListeners({ mode: 'shared' }) on 127.0.0.1:PORT, the listening socket handed
// to a WorkerPool of exactly 2 workers (./portunus-worker.js, the same as under the dispatcher), which
// accept from it themselves.
import { fileURLToPath } from 'node:url';
import { WorkerPool, serveListeners, shutdownOnSignals } from '../../dist/index.js';
import { announceReady, benchPort } from './trivial-http.js';

const port = benchPort();
const pool = new WorkerPool({
  args: [fileURLToPath(new URL('./portunus-worker.js', import.meta.url))],
  min: 2,
  max: 2,
  drainTimeoutMs: 2000,
});
const server = await serveListeners({ listen: { host: '127.0.0.1', port, backlog: 4096 }, pool, mode: 'shared' });
pool.on('exit', (worker, exit) => {
  if (!exit.expected) console.error(`portunus worker ${worker.pid} exited (code ${exit.code}, signal ${exit.signal})`);
});
// Ready once both workers hold the listener: before that, one worker would take every connection.
const holding = () => server.stats().workers === 2 && server.stats().shared === 2;
while (!holding()) await new Promise((resolve) => setTimeout(resolve, 10));
announceReady(pool.workers.map((worker) => worker.pid));

// SIGTERM from the harness: close the master's copy of the listener, drain the workers, exit.
shutdownOnSignals([server, pool]);
