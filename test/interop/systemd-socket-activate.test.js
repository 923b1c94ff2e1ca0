// Socket activation received from the real systemd-socket-activate (Debian's systemd package): several
// listeners with names (-l, --fdname), a connection per process (--accept), UDP (--datagram), and a
// dispatching master that serves the socket systemd gave it. systemd-socket-activate binds, then execs the
// program itself on the first connection (or forks one per connection with --accept), so the program's pid
// is the one LISTEN_PID names.
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import test from 'ava';
import { fixture, request, within } from '../helpers/http-load.js';
import { findPython } from '../helpers/python-peer.js';
import { freePort } from '../helpers/free-port.js';

const HAS_TOOL = spawnSync('systemd-socket-activate', ['--version'], { stdio: 'ignore' }).status === 0;
const maybe = HAS_TOOL ? test : test.skip;
if (!HAS_TOOL) test('systemd-socket-activate is not installed (apt-get install systemd)', (t) => t.pass());

/**
 * Runs systemd-socket-activate with `args` and then `program`, killed at teardown. Resolves once it has
 * bound every listener (its "Listening on … as N." lines on stderr); `lines` are the program's stdout lines,
 * parsed as JSON, in order.
 */
async function activate(t, args, program, listeners) {
  const child = spawn('systemd-socket-activate', [...args, process.execPath, fixture(program)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines = [];
  const waiters = new Set();
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(JSON.parse(line));
    for (const waiter of waiters) waiter();
  });
  let stderr = '';
  const bound = new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if ((stderr.match(/^Listening on .* as \d+\.$/gm) ?? []).length === listeners) resolve();
    });
    child.once('exit', (code) => reject(new Error(`systemd-socket-activate exited (${code}): ${stderr}`)));
  });
  await within(bound, 'systemd-socket-activate to bind its listeners');
  const line = (index) =>
    within(
      new Promise((resolve) => {
        const check = () => index < lines.length && resolve(lines[index]);
        waiters.add(check);
        check();
      }),
      `line ${index} of ${program}'s output (stderr: ${stderr})`,
    );
  return { child, line, stderr: () => stderr };
}

/** Connects to a TCP port or a Unix path and resolves with everything the server sent before it ended. */
function readAnswer(where) {
  return within(
    new Promise((resolve, reject) => {
      const socket = net.connect(where);
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk) => (answer += chunk));
      socket.on('end', () => resolve(answer));
      socket.on('error', reject);
    }),
    `an answer from ${JSON.stringify(where)}`,
  );
}

function uniqueSocketPath(t) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-activate-'));
  fs.chmodSync(directory, 0o700);
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  return path.join(directory, 'admin.sock');
}

maybe('several named listeners (-l, --fdname): a TCP and a Unix net.Server, variables removed', async (t) => {
  const port = await freePort();
  const socketPath = uniqueSocketPath(t);
  const activated = await activate(
    t,
    ['-l', `127.0.0.1:${port}`, '-l', socketPath, '--fdname=web:admin'],
    'activated-serve.js',
    2,
  );
  // systemd-socket-activate execs the program on the first connection.
  const web = await readAnswer({ host: '127.0.0.1', port });
  const report = await activated.line(0);
  t.is(report.pid, activated.child.pid, 'exec kept the pid that LISTEN_PID named');
  t.is(web, `web ${report.pid}\n`);
  t.is(await readAnswer({ path: socketPath }), `admin ${report.pid}\n`);
  t.deepEqual(report.sockets, [
    { name: 'web', fd: 3, kind: 'tcp-server', cloexec: true, localAddress: '127.0.0.1', localPort: port },
    { name: 'admin', fd: 4, kind: 'unix-server', cloexec: true, localPath: socketPath },
  ]);
  t.deepEqual(report.env, {}, 'LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES are gone from process.env');
});

maybe('--datagram: a UDP socket becomes a bound dgram.Socket', async (t) => {
  const port = await freePort();
  const activated = await activate(
    t,
    ['--datagram', '-l', `127.0.0.1:${port}`, '--fdname=dns'],
    'activated-serve.js',
    1,
  );
  const client = dgram.createSocket('udp4');
  t.teardown(() => client.close());
  const answer = new Promise((resolve) => client.once('message', (message) => resolve(message.toString())));
  client.send('hello', port, '127.0.0.1');
  const report = await activated.line(0);
  t.is(await within(answer, 'the UDP answer'), `dns ${report.pid}\n`);
  t.like(report.sockets[0], { name: 'dns', fd: 3, kind: 'udp', cloexec: true, localPort: port });
});

maybe('--accept: each connection is passed to a process of its own as a connected net.Socket', async (t) => {
  const port = await freePort();
  await activate(t, ['--accept', '-l', `127.0.0.1:${port}`, '--fdname=conn'], 'activated-serve.js', 1);
  const [first, second] = await Promise.all([
    readAnswer({ host: '127.0.0.1', port }),
    readAnswer({ host: '127.0.0.1', port }),
  ]);
  t.regex(first, /^conn \d+\n$/);
  t.regex(second, /^conn \d+\n$/);
  t.not(first, second, 'two connections, two processes');
});

maybe('a dispatching master started by systemd serves the socket it was given, answering curl', async (t) => {
  const port = await freePort();
  const activated = await activate(t, ['-l', `127.0.0.1:${port}`], 'master-socket-activated.js', 1);
  // The first connection starts the master; it waits in the socket's queue until the dispatcher accepts it.
  const first = request(port, { timeoutMs: 20_000 });
  const serving = await within(activated.line(0), 'the master to serve', 20_000);
  t.like(serving, { event: 'serving', pid: activated.child.pid, name: 'unknown', port });
  t.is((await first).status, 200);
  const curl = spawnSync('curl', ['-sS', '--max-time', '10', `http://127.0.0.1:${port}/curl`], { encoding: 'utf8' });
  t.is(curl.status, 0, curl.stderr);
  t.like(JSON.parse(curl.stdout), { url: '/curl', method: 'GET' });
  activated.child.kill('SIGTERM');
  const exit = await within(
    new Promise((resolve) => activated.child.once('exit', (code, signal) => resolve({ code, signal }))),
    'the master to drain and exit',
    20_000,
  );
  t.deepEqual(exit, { code: 0, signal: null });
});

const python = findPython('import http.server, socket');

(HAS_TOOL && python ? test : test.skip)(
  'systemd to a Node master to Python workers: serveListeners inherit mode passes the socket systemd gave on',
  async (t) => {
    const port = await freePort();
    // systemd-socket-activate passes the program only the variables it is told to (-E), as systemd would.
    const activated = await activate(
      t,
      ['-l', `127.0.0.1:${port}`, '--fdname=web', '-E', 'MODE=inherit', '-E', `PYTHON=${python}`],
      'master-socket-activated.js',
      1,
    );
    const first = request(port, { timeoutMs: 20_000 });
    const serving = await within(activated.line(0), 'the master to serve', 20_000);
    t.like(serving, { event: 'serving', pid: activated.child.pid, name: 'web', port });
    const answer = await first;
    t.is(answer.status, 200);
    t.is(answer.json.name, 'web', 'the Python worker got the name systemd gave');
    t.true(serving.workers.includes(answer.json.pid), 'a worker of the master answered');
    activated.child.kill('SIGTERM');
    const exit = await within(
      new Promise((resolve) => activated.child.once('exit', (code, signal) => resolve({ code, signal }))),
      'the master to drain and exit',
      20_000,
    );
    t.deepEqual(exit, { code: 0, signal: null });
    for (const pid of serving.workers) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} is gone`);
  },
);
