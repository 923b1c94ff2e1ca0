// `portunus serve --mode reuseport|inherit` end to end, through the real binary: a Node app in dispatch mode
// and a Python app in inherit mode (it takes its listener by LISTEN_FDS) answer curl side by side; a Node app
// in reuseport mode answers from one SO_REUSEPORT member per worker. SIGTERM drains each, exit 0, no worker left.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { openFdCount, assertNoFdLeak } from '../../helpers/fd-count.js';
import { fixture, waitFor } from '../../helpers/http-load.js';
import { alive, ctlJson, curl, socketDir, startServe } from '../../helpers/serve-cli.js';
import { until, within } from '../../helpers/within.js';

const nodeApp = [process.execPath, fixture('worker-http.js')];
const pythonApp = ['python3', fixture('python-socket-activated-server.py')];

async function stop(t, serve) {
  const { workers } = await ctlJson(t, serve.socket, 'workers');
  serve.child.kill('SIGTERM');
  t.deepEqual(await within(serve.exited, 'serve to exit'), { code: 0, signal: null });
  await waitFor(() => workers.every((w) => !alive(w.pid)), 'the workers to exit');
}

test.serial('a Node app in dispatch mode and a Python app in inherit mode: curl gets answers from both', async (t) => {
  const before = openFdCount();
  const [node, python] = await Promise.all([
    startServe(t, { args: ['--min', '1'], command: nodeApp }),
    startServe(t, { args: ['--mode', 'inherit', '--min', '2'], command: pythonApp }),
  ]);
  const fromNode = await curl(node.port, '/node');
  t.is(fromNode.code, 0, fromNode.stderr);
  t.is(JSON.parse(fromNode.body).url, '/node');

  const { workers } = await ctlJson(t, python.socket, 'workers');
  t.is(workers.length, 2);
  const pythonPids = new Set(workers.map((w) => w.pid));
  for (let i = 0; i < 4; i++) {
    const answer = await curl(python.port, `/python/${i}`);
    t.is(answer.code, 0, answer.stderr);
    const body = JSON.parse(answer.body);
    // The Python worker took the listener as LISTEN_FDS (it exits 2 otherwise) and answers itself.
    t.like(body, { name: 'unknown', path: `/python/${i}` });
    t.true(pythonPids.has(body.pid), `answered by ${body.pid}, a worker of the inherit pool`);
  }
  const stats = await ctlJson(t, python.socket, 'stats');
  t.is(stats.mode, 'inherit');
  t.like(stats.listeners[0], { mode: 'inherit', listeners: 1 });
  t.is(stats.listeners[0].address.port, python.port);

  await Promise.all([stop(t, node), stop(t, python)]);
  await assertNoFdLeak(t, before);
});

test.serial('serve --mode reuseport: one SO_REUSEPORT listener per worker slot, every request answered', async (t) => {
  const before = openFdCount();
  const serve = await startServe(t, { args: ['--mode', 'reuseport', '--min', '2', '--max', '2'], command: nodeApp });
  await until(
    async () => (await ctlJson(t, serve.socket, 'stats')).listeners[0]?.workers === 2,
    'both workers to adopt their member',
  );
  const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => curl(serve.port, `/${i}`)));
  for (const [i, answer] of answers.entries()) {
    t.is(answer.code, 0, answer.stderr);
    t.is(JSON.parse(answer.body).url, `/${i}`);
  }
  const stats = await ctlJson(t, serve.socket, 'stats');
  t.is(stats.mode, 'reuseport');
  t.like(stats.listeners[0], { mode: 'reuseport', listeners: 2, workers: 2, failed: 0, dropped: 0 });
  await stop(t, serve);
  await assertNoFdLeak(t, before);
});

/** curl over a Unix socket: { code, body, stderr }. */
function curlUnix(socketPath, urlPath) {
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['-sS', '--max-time', '20', '--unix-socket', socketPath, `http://localhost${urlPath}`],
      { timeout: 25_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : (error.code ?? null), body: stdout, stderr }),
    );
  });
}

test.serial(
  'serve --listen unix:/PATH: curl --unix-socket is answered by the pool; the file is 0600 and gone after SIGTERM',
  async (t) => {
    const before = openFdCount();
    const socketPath = path.join(socketDir(t), 'app.sock');
    const serve = await startServe(t, { listen: [`unix:${socketPath}`], args: ['--min', '2'], command: nodeApp });
    t.is(fs.statSync(socketPath).mode & 0o777, 0o600);
    for (let i = 0; i < 6; i++) {
      const answer = await curlUnix(socketPath, `/unix/${i}`);
      t.is(answer.code, 0, answer.stderr);
      t.is(JSON.parse(answer.body).url, `/unix/${i}`);
    }
    t.like((await ctlJson(t, serve.socket, 'stats')).dispatchers[0], { dropped: 0 });
    await stop(t, serve);
    t.false(fs.existsSync(socketPath), 'the master unlinks the socket file it bound');
    await assertNoFdLeak(t, before);
  },
);
