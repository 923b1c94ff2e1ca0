// The main job (`npm start`): a master on 127.0.0.1:8080 (PORT to change) accepts connections and hands each
// to a pool of worker processes (min 1, max = CPUs; WORKERS to change) serving a small HTTP app. It prints a
// status line every few seconds. SIGHUP restarts the workers with zero downtime; SIGINT/SIGTERM drain and stop.
// MODE=shared hands the listening socket itself to the workers, which accept from it (no master hop);
// MODE=reuseport gives each worker slot a SO_REUSEPORT listener of its own (Linux, FreeBSD).
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { WorkerPool, acceptAndDispatch, serveListeners, shutdownOnSignals } from '../../dist/index.js';

/**
 * An integer from the environment, or `fallback` when the variable is unset or empty. Anything else stops
 * the master with a message naming the variable: `WORKERS=abc` must not reach the pool as NaN.
 */
function integerFromEnv(name, fallback, min, max) {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(`${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

const port = integerFromEnv('PORT', 8080, 0, 65535);
const mode = process.env.MODE || 'dispatch';
if (mode !== 'dispatch' && mode !== 'shared' && mode !== 'reuseport') {
  console.error(`MODE must be dispatch, shared or reuseport, not ${JSON.stringify(mode)}`);
  process.exit(2);
}
const max = integerFromEnv('WORKERS', os.availableParallelism(), 1, 4096);
const pool = new WorkerPool({
  args: [fileURLToPath(new URL('./worker.js', import.meta.url))],
  min: 1,
  max,
  idleTimeoutMs: 10_000,
});
pool.on('spawn', (worker) => console.log(`[pool] spawned worker ${worker.id} (pid ${worker.pid})`));
pool.on('exit', (worker, exit) =>
  console.log(
    `[pool] worker ${worker.id} exited (code ${exit.code}, signal ${exit.signal}${exit.expected ? '' : ', unexpected'})`,
  ),
);
pool.on('scale', (event) => console.log(`[pool] scaled ${event.direction} to ${event.workers} (${event.reason})`));
pool.on('crash', ({ error, respawnInMs }) =>
  console.error(`[pool] ${error.message}\n[pool] next worker in ${respawnInMs} ms`),
);

const listen = { host: '127.0.0.1', port };
// One option switches modes: the workers are the same.
const dispatcher =
  mode === 'dispatch' ? await acceptAndDispatch({ listen, pool }) : await serveListeners({ listen, pool, mode });
const { address, port: actualPort } = dispatcher.address();
console.log(
  `portunus http-pool (mode ${mode}) listening on http://${address}:${actualPort}/ (master pid ${process.pid})`,
);
console.log(`  try: curl http://${address}:${actualPort}/   restart workers: kill -HUP ${process.pid}   stop: Ctrl-C`);

const status = setInterval(() => {
  const s = dispatcher.stats();
  const workers = pool
    .stats()
    .workers.map((w) => `${w.id}:${w.state}/${w.load}`)
    .join(' ');
  const counters =
    mode === 'shared'
      ? `listener held by ${s.workers} workers`
      : mode === 'reuseport'
        ? `${s.listeners} listeners, ${s.workers} held by workers, ${s.masterServed} served by the master (accepted=${s.accepted})`
        : `accepted=${s.accepted} handedOff=${s.handedOff} inFlight=${s.inFlight} redispatched=${s.redispatched} pending=${s.pending}`;
  console.log(`[status] ${counters} workers=[${workers}]`);
}, 5000);

process.on('SIGHUP', () => {
  console.log('[pool] restarting workers');
  pool.restart().then(
    () => console.log(`[pool] restart done: generation ${pool.generation}`),
    (error) => console.error(`[pool] restart failed: ${error.message}`),
  );
});

// Ctrl-C or kill -TERM: stop accepting, hand what was accepted to workers (giving up on connections still
// waiting after 10 s), drain the workers, exit. The workers run in process groups of their own, so the
// terminal's Ctrl-C reaches only this process. A second Ctrl-C exits at once.
shutdownOnSignals([dispatcher, pool], {
  timeoutMs: 10_000,
  onSignal: (signal) => {
    console.log(`[master] ${signal}: draining`);
    clearInterval(status);
  },
});
