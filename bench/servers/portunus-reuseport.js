// Setup "portunus reuseport": serveListeners({ mode: 'reuseport' }) on 127.0.0.1:PORT, a SO_REUSEPORT group
// of 2 members, one handed to each worker of a WorkerPool of exactly 2 workers (./portunus-worker.js, the
// same as under the dispatcher), which accept from their own member.
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
const server = await serveListeners({ listen: { host: '127.0.0.1', port, backlog: 4096 }, pool, mode: 'reuseport' });
pool.on('exit', (worker, exit) => {
  if (!exit.expected) console.error(`portunus worker ${worker.pid} exited (code ${exit.code}, signal ${exit.signal})`);
});
// Ready once both workers hold their member: before that, the master accepts and dispatches.
const holding = () => server.stats().workers === 2;
while (!holding()) await new Promise((resolve) => setTimeout(resolve, 10));
announceReady(pool.workers.map((worker) => worker.pid));

// SIGTERM from the harness: close the master's members, drain the workers, exit.
shutdownOnSignals([server, pool]);
