// One version of a server that replaces a running one with no refused connection:
//
//   SERVER_VERSION=2 node examples/takeover/server.js /tmp/portunus-takeover/app.sock 8080
//
// If a server already offers its listeners on the socket path, this one takes them (the port never
// closes), starts its own worker pool behind them, and says ready; the old one then stops accepting,
// drains its pool and exits. If nobody is there, it binds the port itself. Either way it then offers its
// listener on the same path, for the next version. SIGINT/SIGTERM drain and stop.
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { WorkerPool, acceptAndDispatch, offerListeners, shutdownOnSignals, takeListeners } from '../../dist/index.js';

const [socketPath = '/tmp/portunus-takeover/app.sock', portText = '8080'] = process.argv.slice(2);
const version = process.env.SERVER_VERSION ?? '1';
const log = (line) => console.log(`version ${version} (pid ${process.pid}): ${line}`);

let taken;
try {
  taken = await takeListeners(socketPath);
  log(`took the listeners of pid ${taken.predecessorPid}`);
} catch (error) {
  if (error.code !== 'ERR_PORTUNUS_NO_PREDECESSOR') throw error;
}

const pool = new WorkerPool({
  args: [fileURLToPath(new URL('worker.js', import.meta.url))],
  env: { ...process.env, SERVER_VERSION: version },
  min: 1,
  max: Math.min(2, os.availableParallelism()),
});
// A taken listener arrives as a descriptor nobody accepts on yet; the dispatcher takes it as it is.
const listen = taken === undefined ? { host: '127.0.0.1', port: Number(portText) } : { fd: taken.takeFd('web') };
const dispatcher = await acceptAndDispatch({ listen, pool });
// Only now does the old version stop accepting: connections that arrived meanwhile wait in the queue.
if (taken !== undefined) await taken.ready();

const takeover = await offerListeners({ path: socketPath, listeners: { web: dispatcher } });
const stopSignals = shutdownOnSignals([takeover, dispatcher, pool]);
log(`serving http://127.0.0.1:${dispatcher.address().port}, next version may take over at ${socketPath}`);
takeover.on('rollback', (error) => log(`a successor failed, still serving: ${error.message}`));
takeover.on('handover', async (successor) => {
  log(`pid ${successor.pid} took over; draining`);
  stopSignals();
  await dispatcher.close();
  await pool.close();
  log('drained, exiting');
  process.exit(0);
});
