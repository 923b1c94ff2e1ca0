// Setup "portunus router" of the mux benchmark: serveRouter() on 127.0.0.1:PORT routing TLS connections by
// server name (bench.test) to a pool of one ./tls-service.js worker, which terminates TLS itself. The router
// reads the ClientHello, hands the socket over with it, and never touches another byte of the connection.
import { fileURLToPath } from 'node:url';
import { WorkerPool, serveRouter, shutdownOnSignals } from '../../dist/index.js';
import { announceReady, benchPort } from './trivial-http.js';

const port = benchPort();
const pool = new WorkerPool({
  args: [fileURLToPath(new URL('./tls-service.js', import.meta.url))],
  min: 1,
  max: 1,
  drainTimeoutMs: 2000,
});
const router = await serveRouter({
  listen: { host: '127.0.0.1', port, backlog: 4096 },
  pools: { service: pool },
  routes: [{ host: 'bench.test', protocol: 'tls', to: 'service' }],
  // As HAProxy's bind line in bench/mux.js has defer-accept: the ClientHello is there at accept.
  deferAccept: true,
});
router.dispatcher.on('error', (error) => console.error(`accept error: ${error.message}`));
announceReady(pool.workers.map((worker) => worker.pid));
shutdownOnSignals([router, pool], { timeoutMs: 2000 });
