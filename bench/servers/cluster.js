// Setups "cluster RR" and "cluster NONE": node:cluster with 2 workers. SCHED=rr: the primary accepts and
// passes each connection to a worker over IPC (Node's default on Linux). SCHED=none: the workers share the
// listening socket and accept themselves.
import cluster from 'node:cluster';
import { announceReady, benchPort, trivialHttpServer } from './trivial-http.js';

const WORKERS = 2;
const port = benchPort();

if (cluster.isPrimary) {
  cluster.schedulingPolicy = process.env.SCHED === 'none' ? cluster.SCHED_NONE : cluster.SCHED_RR;
  const workers = Array.from({ length: WORKERS }, () => cluster.fork());
  let listening = 0;
  let stopping = false;
  cluster.on('listening', () => {
    if (++listening === WORKERS) announceReady(workers.map((worker) => worker.process.pid));
  });
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) console.error(`cluster worker ${worker.process.pid} exited (code ${code}, signal ${signal})`);
  });
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      stopping = true;
      for (const worker of workers) worker.process.kill('SIGTERM');
      cluster.disconnect(() => process.exit(0));
      setTimeout(() => process.exit(0), 2000).unref();
    });
  }
} else {
  trivialHttpServer().listen({ host: '127.0.0.1', port, backlog: 4096 });
  process.on('SIGTERM', () => process.exit(0));
}
