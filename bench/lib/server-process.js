// Starts one benchmark server as a child process, waits for its "ready" line (which names its worker
// processes), and stops it: SIGTERM to the master, which ends its own workers, then SIGKILL by pid to
// anything still there after 5 s. Bounded everywhere.
import { spawn } from 'node:child_process';

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

/** Spawns `node script port` with `env`; resolves with { pid, workers, child, log } once ready. */
export function startServer(script, port, env = {}) {
  const child = spawn(process.execPath, [script, String(port)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`not ready within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    const fail = (error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${script}: ${error.message}\n${log}`));
    };
    child.stderr.on('data', (chunk) => {
      log += chunk;
    });
    child.stdout.on('data', (chunk) => {
      log += chunk;
      const match = /^ready (\{.*\})$/m.exec(log);
      if (match === null) return;
      clearTimeout(timer);
      child.stdout.removeAllListeners('data');
      child.stdout.on('data', (more) => {
        server.log += more;
      });
      const { pid, workers } = JSON.parse(match[1]);
      const server = { pid, workers, child, log: '' };
      child.stderr.removeAllListeners('data');
      child.stderr.on('data', (more) => {
        server.log += more;
      });
      resolve(server);
    });
    child.once('exit', (code, signal) => fail(new Error(`exited before ready (code ${code}, signal ${signal})`)));
  });
}

/** Stops a started server and its workers; resolves once the master has exited. */
export async function stopServer(server) {
  const exited = new Promise((resolve) => {
    if (server.child.exitCode !== null || server.child.signalCode !== null) resolve();
    else server.child.once('exit', resolve);
  });
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
  for (const pid of server.workers) {
    for (let waited = 0; waited < STOP_TIMEOUT_MS && alive(pid); waited += 50) await sleep(50);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
