// Socket activation between portunus and programs in any language: spawnActivated() starting a plain Python
// server and a Node one that calls listenFds(), both answering real clients; and listenFds() refusing
// variables that are wrong (the real systemd-socket-activate is in test/interop/systemd-socket-activate.test.js).
import dgram from 'node:dgram';
import net from 'node:net';
import readline from 'node:readline';
import test from 'ava';
import { spawnActivated } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { fixture, request, within } from '../../helpers/http-load.js';
import { findPython } from '../../helpers/python-peer.js';

const python = findPython('import http.server, socket');

/** The child's stdout lines as parsed JSON; `line(i)` waits for the i-th. Killed at teardown if alive. */
function follow(t, child) {
  const lines = [];
  const waiters = new Set();
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  readline.createInterface({ input: child.stdout }).on('line', (text) => {
    lines.push(JSON.parse(text));
    for (const waiter of waiters) waiter();
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    exited: () => within(exited, 'the program to exit'),
    line: (index) =>
      within(
        new Promise((resolve) => {
          const check = () => index < lines.length && resolve(lines[index]);
          waiters.add(check);
          check();
        }),
        `line ${index} of the program's output (stderr: ${stderr})`,
      ),
  };
}

async function listening(server, ...args) {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(...args, resolve);
  });
  return server;
}

function closed(server) {
  return new Promise((resolve) => server.close(resolve));
}

/** Resolves with everything a server sent on a fresh connection before it ended it. */
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

(python ? test.serial : test.skip)(
  'spawnActivated() starts a plain Python server that serves the listener it was given',
  async (t) => {
    const before = openFdCount();
    const server = await listening(net.createServer(), 0, '127.0.0.1');
    const { port } = server.address();
    const child = spawnActivated(python, [fixture('python-socket-activated-server.py')], {
      listeners: [{ name: 'web', server }],
      stdio: 'pipe',
    });
    // The child has its copy: ours would compete for connections.
    await closed(server);
    const program = follow(t, child);
    const serving = await program.line(0);
    t.deepEqual(serving, { event: 'serving', pid: child.pid, names: ['web'] }, 'LISTEN_PID was the program’s own pid');
    const answer = await request(port, { path: '/from-node' });
    t.deepEqual(answer.json, { name: 'web', pid: child.pid, path: '/from-node' });
    child.kill('SIGTERM');
    t.deepEqual(await program.exited(), { code: 0, signal: null });
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'spawnActivated() passes TCP, Unix and UDP sockets by name to a Node program that calls listenFds()',
  async (t) => {
    const before = openFdCount();
    const tcp = await listening(net.createServer(), 0, '127.0.0.1');
    // An abstract name: closing our copy below unlinks no file the program still listens on.
    const socketPath = `\0portunus-activation-${process.pid}-${Math.random().toString(16).slice(2)}`;
    const unix = await listening(net.createServer(), socketPath);
    const udp = dgram.createSocket('udp4');
    await new Promise((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const child = spawnActivated(process.execPath, [fixture('activated-serve.js')], {
      listeners: [
        { name: 'web', server: tcp },
        { name: 'admin', server: unix },
        { name: 'dns', dgram: udp },
      ],
      env: { LISTEN_PID: '1' },
      stdio: 'pipe',
    });
    const program = follow(t, child);
    const report = await program.line(0);
    // Only now: the program has bound each socket already, so none of ours is the last copy of it.
    const { port } = tcp.address();
    const udpPort = udp.address().port;
    await closed(tcp);
    await closed(unix);
    udp.close();
    t.is(report.pid, child.pid, 'LISTEN_PID was the program’s own pid, not the one in options.env');
    t.deepEqual(report.env, {});
    t.deepEqual(
      report.sockets.map(({ name, fd, kind, cloexec }) => ({ name, fd, kind, cloexec })),
      [
        { name: 'web', fd: 3, kind: 'tcp-server', cloexec: true },
        { name: 'admin', fd: 4, kind: 'unix-server', cloexec: true },
        { name: 'dns', fd: 5, kind: 'udp', cloexec: true },
      ],
    );
    t.is(await readAnswer({ host: '127.0.0.1', port }), `web ${child.pid}\n`);
    t.is(await readAnswer({ path: socketPath }), `admin ${child.pid}\n`);
    const client = dgram.createSocket('udp4');
    const datagram = new Promise((resolve) => client.once('message', (message) => resolve(message.toString())));
    client.send('ping', udpPort, '127.0.0.1');
    t.is(await within(datagram, 'the UDP answer'), `dns ${child.pid}\n`);
    client.close();
    child.kill('SIGTERM');
    await program.exited();
    await assertNoFdLeak(t, before);
  },
);
