// What the Windows lane's tests share: unique pipe names, child processes started with node.exe, bounded
// waits and the process's open handle count (the Windows stand-in for test/helpers/fd-count.js).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listenChannel } from '../../dist/index.js';
import { nativeAddon } from '../../dist/binding/native.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const STEP_MS = 20_000;

/** A pipe name nobody else uses. */
export function pipeName(what) {
  return `\\\\.\\pipe\\portunus-test-${what}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Rejects naming `what` if `promise` has not settled after `ms`. */
export function within(promise, what, ms = STEP_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The next `event` of `emitter`, bounded. */
export function nextEvent(emitter, event, ms = STEP_MS) {
  return within(once(emitter, event), `'${event}'`, ms);
}

/**
 * Starts test/windows/fixtures/<name> with this node.exe; nothing is inherited but stdio (stdout piped for
 * the child's report lines). Killed on teardown.
 */
export function spawnFixture(t, name, args = []) {
  const child = spawn(process.execPath, [path.join(here, 'fixtures', name), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout.setEncoding('utf8');
  let buffered = '';
  const lines = [];
  const waiters = [];
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const line = buffered.slice(0, end).trim();
      buffered = buffered.slice(end + 1);
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const exited = once(child, 'exit');
  t.teardown(() => {
    if (child.exitCode === null) child.kill();
  });
  return {
    child,
    exited: () => within(exited, `${name} to exit`),
    /** The child's next stdout line. */
    line: () =>
      within(
        lines.length > 0 ? Promise.resolve(lines.shift()) : new Promise((r) => waiters.push(r)),
        `a line from ${name}`,
      ),
  };
}

/** This process's open handles. */
export function openHandleCount() {
  return nativeAddon().openHandles().length;
}

/**
 * Waits until the open handle count is back to `before` (threads of closed endpoints let their handles go
 * a moment after close() returns); fails with both numbers otherwise.
 */
export async function handlesBackTo(t, before, ms = STEP_MS) {
  const deadline = Date.now() + ms;
  let now = openHandleCount();
  while (now > before.count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    now = openHandleCount();
  }
  if (now <= before.count) return;
  const kind = (value) => {
    try {
      return nativeAddon().socketKind(value)[0];
    } catch {
      return 'gone';
    }
  };
  const added = [...nativeAddon().openHandles()].filter((value) => !before.handles.has(value));
  t.fail(`open handles: ${before.count} before, ${now} after; new: ${added.map((v) => `${v} ${kind(v)}`).join(', ')}`);
}

/** The open handles now, for handlesBackTo(). */
export function handlesNow() {
  const handles = new Set(nativeAddon().openHandles());
  return { count: handles.size, handles };
}

/**
 * One loopback TCP connection, made and closed: Node and Winsock open a few handles of their own the first
 * time TCP is used (and keep them), which a test's before/after count must not take for a leak.
 */
export async function warmUpTcp() {
  const server = net.createServer((socket) => socket.end());
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = net.connect(server.address().port, '127.0.0.1');
  client.resume();
  await once(client, 'close');
  await new Promise((resolve) => server.close(resolve));
}

/**
 * Run once before a file's tests (run.mjs calls a file's `warmUp`): a channel with a child process and a
 * TCP connection, so that the handles Node, Winsock and the C++ runtime open on first use, and keep, are
 * open before any test counts handles.
 */
export async function warmUp() {
  await warmUpTcp();
  const server = await listenChannel(pipeName('warm-up'));
  const cleanups = [];
  const peer = spawnFixture({ teardown: (fn) => cleanups.push(fn) }, 'pipe-peer.mjs', [server.path]);
  const [channel] = await nextEvent(server, 'channel');
  await peer.line();
  await channel.send('bye');
  await peer.exited();
  await server.close();
  for (const cleanup of cleanups) cleanup();
}
