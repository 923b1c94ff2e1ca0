// The routing tests' services: a pool of one worker running test/fixtures/worker-routed.js, which adopts what
// the router hands it and serves it as `server` ('http', 'https' with WORKER_TLS_KEY/WORKER_TLS_CERT in `env`,
// or 'raw', which answers with the bytes it read), answering under `name`.
import { WorkerPool } from '../../dist/index.js';
import { fixture } from './http-load.js';

export function routedPool(name, server, env = {}) {
  return new WorkerPool({
    args: [fixture('worker-routed.js')],
    min: 1,
    max: 1,
    pingIntervalMs: 0,
    drainTimeoutMs: 2000,
    env: { WORKER_NAME: name, WORKER_SERVER: server, ...env },
  });
}
