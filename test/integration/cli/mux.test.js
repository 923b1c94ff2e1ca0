// `portunus mux`: the tcpmux server and its registry as a command. A service registers at the registry
// socket, a client reaches it by name on the port, HELP lists it; SIGTERM ends the registrations and exits
// 0. Wrong usage exits 2 with a message naming the flag, and nothing is started.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import test from 'ava';
import { connectTcpmux, listTcpmuxServices, registerService } from '../../../dist/index.js';
import { BIN, runCli } from '../../helpers/serve-cli.js';
import { readBytes } from '../../helpers/tcpmux.js';
import { once, within } from '../../helpers/within.js';

function registryPath(t) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-cli-mux-'));
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  return path.join(directory, 'run', 'mux.sock');
}

test('a service registered with portunus mux is reached by name; SIGTERM exits 0', async (t) => {
  const registry = registryPath(t);
  const child = spawn(process.execPath, [BIN, 'mux', '--listen', 'tcp://127.0.0.1:0', '--registry', registry], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.teardown(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const lines = [];
  const waiters = [];
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    lines.push(line);
    for (const waiter of waiters) waiter();
  });
  const waitLog = (pattern) =>
    within(
      new Promise((resolve) => {
        const check = () => {
          const found = lines.map((line) => pattern.exec(line)).find(Boolean);
          if (found) resolve(found);
        };
        waiters.push(check);
        check();
      }),
      `a log line matching ${pattern} (log: ${lines.join(' | ')})`,
    );
  const port = Number((await waitLog(/tcpmux on 127\.0\.0\.1:(\d+)/))[1]);
  t.is((fs.statSync(registry).mode & 0o777).toString(8), '600', 'the registry socket is 0600');

  const registration = await registerService('Echo', (socket) => socket.end('from the cli\n'), { registry });
  await waitLog(/registered echo \(pid \d+, uid \d+\)/);
  const socket = await within(connectTcpmux('echo', { port }), 'the + through portunus mux');
  t.is(await readBytes(socket, 13), 'from the cli\n');
  socket.destroy();
  t.deepEqual(await listTcpmuxServices({ port }), ['echo']);
  await t.throwsAsync(connectTcpmux('other', { port }), { code: 'ERR_PORTUNUS_SERVICE_REFUSED' });
  await waitLog(/refused other: unknown service/);

  const ended = once(registration, 'close', 'the registration to end');
  child.kill('SIGTERM');
  await ended;
  t.deepEqual(await within(exited, 'portunus mux to exit'), { code: 0, signal: null });
  t.false(fs.existsSync(registry), 'the registry socket is removed');
});

for (const [title, args, pattern] of [
  ['no --listen', ['mux'], /--listen is required/],
  ['a Unix address', ['mux', '--listen', 'unix:/tmp/x.sock'], /tcpmux listens on TCP only/],
  ['a relative registry path', ['mux', '--listen', 'tcp://127.0.0.1:0', '--registry', 'mux.sock'], /absolute/],
  ['a bad uid', ['mux', '--listen', 'tcp://127.0.0.1:0', '--allow-uid', 'root'], /--allow-uid: "root" is not a uid/],
  ['an unknown flag', ['mux', '--listen', 'tcp://127.0.0.1:0', '--workers', '2'], /Unknown option '--workers'/],
]) {
  test(`portunus mux with ${title}: exit 2, naming it`, async (t) => {
    const { code, stderr } = await runCli(args);
    t.is(code, 2);
    t.regex(stderr, pattern);
    t.regex(stderr, /portunus mux --help/);
  });
}

test('portunus mux --help prints usage, exit 0', async (t) => {
  const { code, stdout } = await runCli(['mux', '--help']);
  t.is(code, 0);
  t.regex(stdout, /^Usage: portunus mux/);
  t.regex(stdout, /Exit codes:/);
});
