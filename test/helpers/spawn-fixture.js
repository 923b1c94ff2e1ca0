// Spawns a child fixture (test/fixtures/<name>.js) that holds the other end of a channel as its fd 3 and
// opens it with channelFromFd(3). The child is SIGKILLed, and the channel destroyed, at test teardown
// whatever the test did, so a failing test never leaves a process behind.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { socketPairForChild } from '../../dist/index.js';
import { Reports } from './reports.js';
import { within } from './within.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/**
 * Returns { channel, child, exited, reports }: this process's end of the channel, the ChildProcess, a
 * promise of its { code, signal } once it has exited, and the reports it sends (./reports.js).
 */
export function spawnFixture(t, name, { args = [], channelOptions, env } = {}) {
  const { channel, childFd, closeChildFd } = socketPairForChild(channelOptions);
  let child;
  try {
    child = spawn(process.execPath, [path.join(FIXTURES, `${name}.js`), ...args], {
      stdio: ['ignore', 'inherit', 'inherit', childFd],
      env: env === undefined ? process.env : { ...process.env, ...env },
    });
  } catch (error) {
    channel.destroy();
    throw error;
  } finally {
    // The child has its own copy now; ours would keep the channel open after the child died.
    closeChildFd();
  }
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
  });
  // Listeners a test does not attach must not turn a failure into an unhandled event.
  channel.on('error', () => {});
  const reports = new Reports(channel);
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    channel.destroy();
    await within(exited, `child ${child.pid} (${name}) to exit`).catch(() => {});
  });
  return { channel, child, exited, reports };
}
