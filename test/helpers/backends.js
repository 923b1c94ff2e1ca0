// Runs one test body over both channel backends. The parent side, startPeer(), spawns a child fixture
// connected by a socketpair passed as fd 3 ('unix') or by Node's own IPC after fork() ('node-ipc'), and turns
// the JSON reports the child sends over the channel into awaitable events. The child side,
// openParentChannel(), opens the matching end; the backend travels in an environment variable so that a
// fixture is the same file on both. At the end, small socket helpers the transport tests share.
import { fork } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { channelFromFd, nodeIpcChannel } from '../../dist/index.js';
import { Reports } from './reports.js';
import { spawnFixture } from './spawn-fixture.js';
import { STEP_MS, within } from './within.js';

export { within };

export const BACKENDS = ['unix', 'node-ipc'];

const BACKEND_ENV = 'PORTUNUS_TEST_BACKEND';
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/**
 * Starts the fixture test/fixtures/<name>.js connected by `backend` (with `extraEnv` added to its
 * environment) and waits for its 'ready' report. The child is SIGKILLed at teardown if a test left it running.
 */
export async function startPeer(t, backend, name, args = [], extraEnv = {}) {
  const env = { ...extraEnv, [BACKEND_ENV]: backend };
  let peer;
  if (backend === 'unix') {
    const { channel, child, exited, reports } = spawnFixture(t, name, { args, env });
    peer = new Peer(backend, child, channel, exited, reports);
  } else if (backend === 'node-ipc') {
    const child = fork(path.join(FIXTURES, `${name}.js`), args, {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...env },
    });
    const channel = nodeIpcChannel(child);
    channel.on('error', () => {});
    const exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
    });
    t.teardown(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      channel.destroy();
      await within(exited, `child ${child.pid} (${name}) to exit`).catch(() => {});
    });
    peer = new Peer(backend, child, channel, exited, new Reports(channel));
  } else {
    throw new Error(`unknown backend ${backend}`);
  }
  await peer.take('ready');
  return peer;
}

/** A child fixture seen from the test: its channel, its process, its reports. */
class Peer {
  #reports;
  #seen = [];

  constructor(backend, child, channel, exited, reports) {
    this.backend = backend;
    this.child = child;
    this.channel = channel;
    this.exited = exited;
    this.#reports = reports;
    channel.on('message', (message) => {
      try {
        this.#seen.push(message.json());
      } catch {
        // Not a report.
      }
    });
  }

  get pid() {
    return this.child.pid;
  }

  /** Resolves with (and consumes) the first report of `event` that `filter` accepts, past or future. */
  take(event, filter, ms) {
    return this.#reports.take(event, filter, ms);
  }

  /** Every report of `event` received so far, consumed or not. */
  seen(event) {
    return this.#seen.filter((report) => report.event === event);
  }

  /** Sends a command to the fixture. */
  command(command) {
    return this.channel.send(JSON.stringify(command));
  }

  /** The child's own open descriptor count. */
  async fdCount() {
    const nonce = Math.random();
    await this.command({ op: 'fd-count', nonce });
    return (await this.take('fd-count', (report) => report.nonce === nonce)).count;
  }

  /**
   * Waits (up to ~2 s) for the child's descriptor count to come back down to `before` (or below: Node 24 may
   * close a descriptor of its own in between); returns the last count. Above `before` is a leak.
   */
  async settledFdCount(before) {
    const deadline = Date.now() + 2000;
    let now = await this.fdCount();
    while (now > before && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      now = await this.fdCount();
    }
    return now;
  }

  /** Closes the channel (the fixture exits when it sees that) and waits for the exit. */
  async stop() {
    await this.channel.close();
    return within(this.exited, `child ${this.pid} to exit`);
  }
}

/** The child's end of the channel startPeer() opened. */
export function openParentChannel() {
  const backend = process.env[BACKEND_ENV];
  if (backend === 'unix') return channelFromFd(3);
  if (backend === 'node-ipc') return nodeIpcChannel(process);
  throw new Error(`${BACKEND_ENV} is ${JSON.stringify(backend)}: run this fixture through startPeer()`);
}

/** Sends one JSON report to the parent. */
export function report(channel, event) {
  return channel.send(JSON.stringify(event)).catch(() => {});
}

// Socket helpers the transport tests share.

/** A net.Server listening on port 0 of `host` (or on the Unix socket `path` when host is an object). */
export async function listening(where = '127.0.0.1', options = {}) {
  const server = net.createServer(options);
  await within(
    new Promise((resolve, reject) => {
      server.once('error', reject);
      if (typeof where === 'object') server.listen(where.path, resolve);
      else server.listen(0, where, resolve);
    }),
    'a server to listen',
  );
  return server;
}

/** Connects a client to `server` and resolves with the client and the socket `server` accepted for it. */
export async function connectedPair(server) {
  const accepted = new Promise((resolve) => server.once('connection', resolve));
  const address = server.address();
  const client = typeof address === 'string' ? net.connect(address) : net.connect(address.port, address.address);
  client.on('error', () => {});
  await within(
    new Promise((resolve, reject) => client.once('connect', resolve).once('error', reject)),
    'a client to connect',
  );
  const socket = await within(accepted, 'the server to accept');
  socket.on('error', () => {});
  return { client, accepted: socket };
}

/** Collects everything `socket` reads; `until(n)` waits for n bytes in total, `ended` for its EOF. */
export function collector(socket) {
  const chunks = [];
  const waiters = new Set();
  let ended = false;
  socket.on('data', (chunk) => {
    chunks.push(chunk);
    for (const waiter of [...waiters]) waiter();
  });
  const endedPromise = new Promise((resolve) =>
    socket.once('end', () => {
      ended = true;
      resolve();
      for (const waiter of [...waiters]) waiter();
    }),
  );
  // A socket accepted with pauseOnConnect is explicitly paused: a 'data' listener alone does not resume it.
  socket.resume();
  return {
    get bytes() {
      return Buffer.concat(chunks);
    },
    get text() {
      return Buffer.concat(chunks).toString('latin1');
    },
    get sawEnd() {
      return ended;
    },
    ended: endedPromise,
    /** Resolves with everything read once `expected` (a byte count, or a string to find) has arrived. */
    until(expected, what = `${typeof expected === 'number' ? `${expected} bytes` : JSON.stringify(expected)}`) {
      let check;
      const arrived = new Promise((resolve, reject) => {
        check = () => {
          const bytes = Buffer.concat(chunks);
          if (typeof expected === 'number' ? bytes.length >= expected : bytes.includes(expected)) resolve(bytes);
          else if (ended) reject(new Error(`EOF after ${bytes.length} bytes while waiting for ${what}`));
        };
        waiters.add(check);
        check();
      });
      return within(arrived, what).finally(() => waiters.delete(check));
    },
  };
}

/** Resolves once `socket` has been closed (its descriptor released on Node's side). */
export function closedSocket(socket) {
  if (socket.closed) return Promise.resolve();
  return within(new Promise((resolve) => socket.once('close', resolve)), 'a socket to close');
}

/** Polls `condition` until it holds, up to `ms`. */
export async function eventually(condition, what, ms = STEP_MS) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
