// Setup "portunus": acceptAndDispatch on 127.0.0.1:PORT handing every connection to a WorkerPool of exactly
// 2 workers (./portunus-worker.js), which serve it with the same http.Server as every other setup.
import { fileURLToPath } from 'node:url';
import { WorkerPool, acceptAndDispatch, shutdownOnSignals } from '../../dist/index.js';
import { announceReady, benchPort } from './trivial-http.js';

const port = benchPort();
const pool = new WorkerPool({
  args: [fileURLToPath(new URL('./portunus-worker.js', import.meta.url))],
  min: 2,
  max: 2,
  drainTimeoutMs: 2000,
});
const dispatcher = await acceptAndDispatch({ listen: { host: '127.0.0.1', port, backlog: 4096 }, pool });
dispatcher.on('error', (error) => console.error(`accept error: ${error.message}`));
pool.on('exit', (worker, exit) => {
  if (!exit.expected) console.error(`portunus worker ${worker.pid} exited (code ${exit.code}, signal ${exit.signal})`);
});
announceReady(pool.workers.map((worker) => worker.pid));

// SIGTERM from the harness: hand what was accepted to the workers (2 s at most), drain them, exit.
shutdownOnSignals([dispatcher, pool], {
  timeoutMs: 2000,
  onSignal: () => {
    const stats = dispatcher.stats();
    console.error(
      `dispatcher: accepted=${stats.accepted} handedOff=${stats.handedOff} redispatched=${stats.redispatched} dropped=${stats.dropped}`,
    );
  },
});
