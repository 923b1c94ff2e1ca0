// Python peers for interop tests: finding an interpreter that has what a test needs, and running a fixture
// whose progress lines (one JSON object per line on stdout, {"event": …}) become awaitable events. The
// peer is SIGKILLed at teardown if it is still running, so a failing test leaves no process behind.
import { spawn, spawnSync } from 'node:child_process';
import readline from 'node:readline';
import { within } from './within.js';

/** The first of python3 / python for which `probe` (Python code) runs without error, or undefined. */
export function findPython(probe) {
  return ['python3', 'python'].find((name) => spawnSync(name, ['-c', probe], { stdio: 'ignore' }).status === 0);
}

/**
 * Starts `python` with `args` (the fixture's path first). Returns { child, closed, exited(), stderr(),
 * events, event(name) }: `closed` resolves with { code, signal } once it has exited and closed its output,
 * `exited()` is that promise within a deadline, `event(name)` resolves with the first event of that name.
 */
export function startPythonPeer(t, python, args, { stdio = ['ignore', 'pipe', 'pipe'] } = {}) {
  const child = spawn(python, args, { stdio });
  const events = [];
  const waiters = new Set();
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      events.push(JSON.parse(line));
    } catch {
      t.log(`python: ${line}`);
      return;
    }
    for (const waiter of [...waiters]) waiter();
  });
  const closed = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    closed,
    exited: () => within(closed, `the Python peer to exit (stderr: ${stderr.trim() || 'empty'})`),
    stderr: () => stderr,
    /** Every event so far, in order (the array grows as lines arrive). */
    events,
    event(name) {
      let check;
      const found = new Promise((resolve) => {
        check = () => {
          const event = events.find((candidate) => candidate.event === name);
          if (event !== undefined) resolve(event);
        };
        waiters.add(check);
        check();
      });
      return within(found, `the Python peer's '${name}' (stderr: ${stderr.trim() || 'empty'})`).finally(() =>
        waiters.delete(check),
      );
    },
  };
}
