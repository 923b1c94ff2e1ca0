// listenFds() and variables that are wrong: meant for another process (ignored), malformed, naming
// descriptors that are not open or that this process already owns. The program runs through the same exec
// shim as spawnActivated(), written out here so that each variable can be set by hand.
import { spawn } from 'node:child_process';
import net from 'node:net';
import readline from 'node:readline';
import test from 'ava';
import { fixture, within } from '../../helpers/http-load.js';

/**
 * Runs activated-serve.js with `env` and the descriptors `fds` at 3, 4, …; LISTEN_PID is the program's own
 * pid unless `env` has one. Resolves with its first output line and its exit.
 */
async function run(t, env, fds = []) {
  const ownPid = env.LISTEN_PID === undefined ? 'LISTEN_PID=$$; export LISTEN_PID; ' : '';
  const child = spawn('/bin/sh', ['-c', `${ownPid}exec "$0" "$@"`, process.execPath, fixture('activated-serve.js')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit', ...fds],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const first = new Promise((resolve) =>
    readline.createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line))),
  );
  const report = await within(first, 'the program to report');
  child.kill('SIGTERM');
  return report;
}

let server;
test.before(async () => {
  server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
});
test.after.always(() => server.close());
const listener = () => server._handle.fd;

test('not activated: no variables, no sockets', async (t) => {
  t.deepEqual((await run(t, {})).sockets, []);
});

test('LISTEN_PID of another process: ignored, the variables removed all the same', async (t) => {
  const report = await run(t, { LISTEN_PID: '1', LISTEN_FDS: '1', LISTEN_FDNAMES: 'web' }, [listener()]);
  t.deepEqual(report.sockets, []);
  t.deepEqual(report.env, {});
});

const malformed = [
  ['a count that is not a number', { LISTEN_FDS: 'two' }, /LISTEN_FDS is "two"/],
  ['a negative count', { LISTEN_FDS: '-1' }, /LISTEN_FDS is "-1"/],
  ['more names than descriptors', { LISTEN_FDS: '1', LISTEN_FDNAMES: 'web:admin' }, /has 2 names/],
];
for (const [what, env, message] of malformed) {
  test(`${what}: ERR_PORTUNUS_BAD_LISTEN_FDS`, async (t) => {
    const report = await run(t, env, [listener()]);
    t.is(report.error.code, 'ERR_PORTUNUS_BAD_LISTEN_FDS');
    t.regex(report.error.message, message);
  });
}

test('a LISTEN_PID that is not a pid: ERR_PORTUNUS_BAD_LISTEN_FDS', async (t) => {
  const report = await run(t, { LISTEN_PID: 'me', LISTEN_FDS: '1' }, [listener()]);
  t.is(report.error.code, 'ERR_PORTUNUS_BAD_LISTEN_FDS');
});

test('more descriptors announced than passed: ERR_PORTUNUS_LISTEN_FD_MISSING names the first one missing', async (t) => {
  const report = await run(t, { LISTEN_FDS: '3' }, [listener()]);
  t.is(report.error.code, 'ERR_PORTUNUS_LISTEN_FD_MISSING');
  // Node's own epoll descriptor sits at 4, where the second one would have been.
  t.regex(report.error.message, /descriptor 4 \('unknown'\) is the runtime's own \(anon_inode:\[eventpoll\]\)/);
});

test('descriptors an earlier call took: ERR_PORTUNUS_LISTEN_FD_IN_USE', async (t) => {
  const report = await run(t, { LISTEN_FDS: '1', ACTIVATE_TWICE: '1' }, [listener()]);
  t.is(report.error.code, 'ERR_PORTUNUS_LISTEN_FD_IN_USE');
  t.regex(report.error.message, /descriptor 3 is already owned by the objects an earlier listenFds\(\) returned/);
});
