// The control socket of `portunus serve`, from the outside: garbage and a 1 MiB line get error answers and
// the daemon keeps serving; a client of another uid is kept out by the file permissions and, past them, by
// SO_PEERCRED; --allow-uid lets it in; restart-workers under continuous load fails no request; SIGTERM
// under load lets in-flight requests finish, exits 0 and leaves no process behind.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import { fixture, request, runLoad } from '../../helpers/http-load.js';
import { alive, ctl, ctlJson, curl, startServe } from '../../helpers/serve-cli.js';
import { until, within } from '../../helpers/within.js';

const nodeApp = (name = 'worker-http.js') => [process.execPath, fixture(name)];

/** Sends `bytes` on a fresh connection to the control socket; resolves with every answer line, parsed. */
function rawRequest(socketPath, bytes) {
  return within(
    new Promise((resolve, reject) => {
      const socket = net.connect(socketPath);
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk) => (text += chunk));
      socket.on('error', reject);
      socket.on('close', () =>
        resolve(
          text
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => JSON.parse(line)),
        ),
      );
      socket.end(bytes);
    }),
    'the control socket to answer and close',
  );
}

test.serial(
  'garbage, unknown commands, bad arguments and a 1 MiB line are answered as errors; serving goes on',
  async (t) => {
    const serve = await startServe(t, { command: nodeApp() });
    const answers = await rawRequest(
      serve.socket,
      Buffer.concat([
        Buffer.from('hello there\n'),
        Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x0a]),
        Buffer.from('spawn-workers lots\nremove-workers\nworkers extra\nworkers\n'),
      ]),
    );
    t.deepEqual(
      answers.map((answer) => (answer.ok ? 'ok' : answer.error.code)),
      [
        'ERR_PORTUNUS_CONTROL_UNKNOWN_COMMAND',
        'ERR_PORTUNUS_CONTROL_UNKNOWN_COMMAND',
        'ERR_PORTUNUS_CONTROL_BAD_ARGUMENT',
        'ERR_PORTUNUS_CONTROL_BAD_ARGUMENT',
        'ERR_PORTUNUS_CONTROL_BAD_ARGUMENT',
        'ok',
      ],
    );
    // A mebibyte without a newline, then one with: each is answered once, and the connection is closed.
    for (const line of [Buffer.alloc(1 << 20, 'a'), Buffer.concat([Buffer.alloc(1 << 20, 'b'), Buffer.from('\n')])]) {
      const overlong = await rawRequest(serve.socket, line);
      t.deepEqual(
        overlong.map((answer) => answer.error?.code),
        ['ERR_PORTUNUS_CONTROL_LINE_TOO_LONG'],
      );
    }
    t.is((await curl(serve.port, '/still')).code, 0);
    const { workers } = await ctlJson(t, serve.socket, 'workers');
    t.is(workers.length, 1);
    t.is(serve.child.exitCode, null);
  },
);

/** A user of another uid for the credential test, made once (root only). */
function otherUser() {
  const name = 'portunus-ctl-test';
  try {
    execFileSync('id', ['-u', name], { stdio: 'pipe' });
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name], { stdio: 'pipe' });
  }
  return {
    uid: Number(execFileSync('id', ['-u', name]).toString()),
    gid: Number(execFileSync('id', ['-g', name]).toString()),
  };
}

/** Asks for `workers` as `user`, with setpriv, from a client that needs nothing of this checkout. */
function requestAs(user, socketPath) {
  const client = `
    const socket = require('net').connect(process.argv[1]);
    let text = '';
    socket.on('data', (chunk) => (text += chunk));
    socket.on('error', (error) => { console.log(JSON.stringify({ connectError: error.code })); });
    socket.on('close', () => text && console.log(text.trim()));
    socket.end('workers\\n');`;
  return new Promise((resolve, reject) => {
    execFile(
      'setpriv',
      [
        '--reuid',
        String(user.uid),
        '--regid',
        String(user.gid),
        '--clear-groups',
        process.execPath,
        '-e',
        client,
        socketPath,
      ],
      { timeout: 20_000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    );
  });
}

const asRoot = process.getuid?.() === 0 && fs.existsSync('/usr/bin/setpriv') ? test.serial : test.serial.skip;
if (process.getuid?.() !== 0) console.log('skipped: the other-uid control test needs root (useradd, setpriv)');

asRoot(
  'a client of another uid is refused: by the 0700 directory, and past it by SO_PEERCRED; --allow-uid admits it',
  async (t) => {
    const user = otherUser();
    const serve = await startServe(t, { command: nodeApp() });
    const directory = path.dirname(serve.socket);
    t.is(fs.statSync(directory).mode & 0o777, 0o700);
    t.is(fs.statSync(serve.socket).mode & 0o777, 0o600);
    t.deepEqual(await requestAs(user, serve.socket), { connectError: 'EACCES' });

    // Open the file permissions as a careless admin might: the credential check still refuses.
    fs.chmodSync(directory, 0o711);
    fs.chmodSync(serve.socket, 0o666);
    const refused = await requestAs(user, serve.socket);
    t.false(refused.ok);
    t.is(refused.error.code, 'ERR_PORTUNUS_PEER_REFUSED');
    t.regex(refused.error.message, new RegExp(`uid ${user.uid}`));
    await serve.waitLog((entry) => entry.msg === 'control client refused' && entry.uid === user.uid, 'the refusal log');
    const { stdout } = await ctl(serve.socket, 'metrics');
    t.regex(stdout, /^portunus_control_refused_peers_total 1$/m);
    t.is((await curl(serve.port, '/')).code, 0);

    const allowing = await startServe(t, { args: ['--allow-uid', String(user.uid)], command: nodeApp() });
    fs.chmodSync(path.dirname(allowing.socket), 0o711);
    fs.chmodSync(allowing.socket, 0o666);
    const admitted = await requestAs(user, allowing.socket);
    t.true(admitted.ok);
    t.is(admitted.result.workers.length, 1);
  },
);

test.serial(
  'ctl restart-workers during continuous load: zero failed requests, the new generation answers',
  async (t) => {
    const serve = await startServe(t, { args: ['--min', '2'], command: nodeApp() });
    let restarted = false;
    t.teardown(() => (restarted = true));
    const load = runLoad(serve.port, { until: () => restarted, concurrency: 8 });
    await until(async () => (await ctlJson(t, serve.socket, 'stats')).dispatchers[0].handedOff >= 20, 'load to run');
    const restart = await ctlJson(t, serve.socket, 'restart-workers');
    t.is(restart.generation, 1);
    // Some more requests on the new generation before the load stops.
    const handedOff = (await ctlJson(t, serve.socket, 'stats')).dispatchers[0].handedOff;
    await until(
      async () => (await ctlJson(t, serve.socket, 'stats')).dispatchers[0].handedOff >= handedOff + 20,
      'load after the restart',
    );
    restarted = true;
    const result = await within(load, 'the load to finish', 30_000);
    t.is(result.failed, 0, result.errors.join('\n'));
    const generations = new Set(result.answers.map((answer) => answer.generation));
    t.true(generations.has('0') && generations.has('1'), `generations seen: ${[...generations]}`);
    const stats = await ctlJson(t, serve.socket, 'stats');
    t.is(stats.pool.restarts, 1);
    t.true(stats.pool.workers.every((w) => w.generation === 1));
    t.is(stats.dispatchers[0].dropped, 0);
  },
);

test.serial('SIGTERM under load: in-flight requests complete, exit 0, no process left behind', async (t) => {
  const serve = await startServe(t, {
    args: ['--min', '2'],
    command: nodeApp('worker-hold-requests.js'),
    env: { WORKER_HOLD_MS: '5000' },
  });
  const { workers } = await ctlJson(t, serve.socket, 'workers');
  const requests = Array.from({ length: 12 }, (_, i) => request(serve.port, { path: `/held-${i}`, timeoutMs: 20_000 }));
  // Every request is with a worker (acknowledged) before the signal.
  let settled = 0;
  for (const pending of requests) pending.finally(() => settled++).catch(() => {});
  await until(async () => (await ctlJson(t, serve.socket, 'stats')).dispatchers[0].handedOff === 12, 'the handoffs');
  serve.child.kill('SIGTERM');
  t.is(settled, 0, 'every request is still being answered when the signal arrives');
  const answers = await within(Promise.allSettled(requests), 'the held requests', 20_000);
  t.deepEqual(
    answers.map((answer) => answer.status === 'fulfilled' && answer.value.status),
    Array(12).fill(200),
  );
  t.deepEqual(await within(serve.exited, 'serve to exit'), { code: 0, signal: null });
  await until(() => workers.every((w) => !alive(w.pid)), 'the workers to exit');
  t.false(fs.existsSync(serve.socket), 'the control socket file is removed');
  // The port is closed: nothing accepts any more.
  t.not((await curl(serve.port, '/')).code, 0);
});
