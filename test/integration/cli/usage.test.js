// The command line itself: --help on every command, wrong usage and wrong config files refused with a
// message naming the flag or key and exit code 2 (nothing started), modes not in this build refused as
// such, and ctl's exit codes when no master answers (3) or the master answers with an error (1).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { fixture } from '../../helpers/http-load.js';
import { runCli, socketDir, startServe } from '../../helpers/serve-cli.js';

for (const args of [['--help'], ['serve', '--help'], ['ctl', '--help']]) {
  test(`portunus ${args.join(' ')} prints usage, exit 0`, async (t) => {
    const { code, stdout } = await runCli(args);
    t.is(code, 0);
    t.regex(stdout, /^Usage: portunus/);
    t.regex(stdout, /Exit codes:/);
  });
}

/** A config file with `content` in a fresh directory. */
function configFile(t, content) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-config-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'portunus.json');
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const USAGE_CASES = [
  ['no --listen', () => ['serve', '--', 'node', 'app.js'], /--listen is required/],
  ['no command', () => ['serve', '--listen', 'tcp://127.0.0.1:0'], /no worker command/],
  [
    'a bad address',
    () => ['serve', '--listen', 'http://x:1', '--', 'node'],
    /--listen: "http:\/\/x:1" is not tcp:\/\/HOST:PORT/,
  ],
  ['an unknown flag', () => ['serve', '--workers', '3', '--', 'node'], /Unknown option '--workers'/],
  [
    '--min above --max',
    () => ['serve', '--listen', 'tcp://127.0.0.1:0', '--min', '3', '--max', '2', '--', 'node'],
    /--min \(3\) is above --max \(2\)/,
  ],
  [
    '--idle-timeout not a number',
    () => ['serve', '--listen', 'tcp://127.0.0.1:0', '--idle-timeout', 'soon', '--', 'node'],
    /--idle-timeout must be a number/,
  ],
  [
    '--mode inherit with two addresses',
    () => ['serve', '--listen', 'tcp://127.0.0.1:0', '--listen', 'tcp://127.0.0.1:0', '--mode', 'inherit', '--', 'x'],
    /--mode inherit serves one --listen address, not 2/,
  ],
  [
    '--min 0 in reuseport mode',
    () => ['serve', '--listen', 'tcp://127.0.0.1:0', '--mode', 'reuseport', '--min', '0', '--', 'node'],
    /--min 0: --mode reuseport needs at least 1 worker running/,
  ],
  [
    '--mode fork',
    () => ['serve', '--listen', 'tcp://127.0.0.1:0', '--mode', 'fork', '--', 'node'],
    /--mode must be one of dispatch, shared, reuseport, inherit/,
  ],
  [
    'a unix listener in reuseport mode',
    () => ['serve', '--listen', 'unix:/tmp/x.sock', '--mode', 'reuseport', '--', 'node'],
    /--listen unix:\/tmp\/x.sock: --mode reuseport listens on TCP only/,
  ],
  [
    '--min 0 in shared mode',
    () => ['serve', '--listen', 'tcp://127.0.0.1:0', '--mode', 'shared', '--min', '0', '--', 'node'],
    /needs at least 1 worker/,
  ],
  [
    'an unknown config key',
    (t) => ['serve', '--config', configFile(t, { listen: 'tcp://127.0.0.1:0', workers: 3 })],
    /unknown key "workers"/,
  ],
  [
    'a config value of the wrong type',
    (t) => ['serve', '--config', configFile(t, { listen: 'tcp://127.0.0.1:0', min: 'two', command: ['node'] })],
    /"min" must be a number/,
  ],
  ['a config file that is not JSON', (t) => ['serve', '--config', configFile(t, '{ listen: ')], /not valid JSON/],
  ['ctl without a command', () => ['ctl'], /no command/],
  ['ctl spawn-workers without N', () => ['ctl', 'spawn-workers'], /spawn-workers takes one whole number/],
  ['ctl with an unknown command', () => ['ctl', 'reload'], /unknown command "reload"/],
];

for (const [title, args, message] of USAGE_CASES) {
  test(`usage error, exit 2: ${title}`, async (t) => {
    const { code, stderr } = await runCli(args(t));
    t.is(code, 2, stderr);
    t.regex(stderr, message);
    t.regex(stderr, /--help` for usage/);
  });
}

test('a config file serves like the flags; flags given win over it', async (t) => {
  const file = configFile(t, {
    listen: 'tcp://127.0.0.1:1',
    min: 2,
    max: 3,
    command: [process.execPath, fixture('worker-http.js')],
  });
  // --listen on the command line replaces the file's (port 1 would need root and be taken anyway).
  const serve = await startServe(t, { args: ['--config', file, '--max', '4'] });
  const { stdout } = await runCli(['ctl', '--socket', serve.socket, '--json', 'stats']);
  t.like(JSON.parse(stdout).pool, { min: 2, max: 4 });
});

test('ctl: exit 3 when no master listens, exit 1 when the master answers with an error', async (t) => {
  const nowhere = path.join(socketDir(t), 'none.sock');
  const unreachable = await runCli(['ctl', '--socket', nowhere, 'workers']);
  t.is(unreachable.code, 3);
  t.regex(unreachable.stderr, /cannot reach .*ENOENT.*is `portunus serve` running/);
  const serve = await startServe(t, { command: [process.execPath, fixture('worker-http.js')] });
  // A whole number, so ctl sends it; past the master's limit (1024), so the master answers an error.
  const refused = await runCli(['ctl', '--socket', serve.socket, 'spawn-workers', '5000']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /ERR_PORTUNUS_CONTROL_BAD_ARGUMENT/);
});
