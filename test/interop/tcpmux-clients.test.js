// TCPMUX clients portunus did not write: a few lines of Python's socket module and netcat (the OpenBSD one,
// as Debian packages it) get RFC 1078's answers from the tcpmux server, and reach the registered service.
import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { assertNoFdLeak, openFdCount } from '../helpers/fd-count.js';
import { python, startMux, startRegistrant, stopRegistrant } from '../helpers/tcpmux.js';
import { within } from '../helpers/within.js';

const run = promisify(execFile);

// On CI a missing tool is a failure, not a skip: the interop claim would go untested.
const pythonTest = python !== undefined || process.env.CI === 'true' ? test.serial : test.skip;
const hasNc = spawnSync('nc', ['-h'], { encoding: 'utf8' }).stderr?.includes('-N') === true;
const ncTest = hasNc || process.env.CI === 'true' ? test.serial : test.skip;

/** Sends the name line and a payload, reads until the server closes, prints what came back (repr). */
const PYTHON_CLIENT = `
import socket, sys
with socket.create_connection(('127.0.0.1', int(sys.argv[1]))) as s:
    s.sendall(sys.argv[2].encode('latin1'))
    s.shutdown(socket.SHUT_WR)
    data = b''
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
print(data.decode('latin1'), end='')
`;

async function withEcho(t, body) {
  const before = openFdCount();
  const { port, registryPath, close } = await startMux(t);
  const peers = [
    await startRegistrant(t, registryPath, 'echo', 'E'),
    await startRegistrant(t, registryPath, 'time', 'T'),
  ];
  await body(port);
  for (const peer of peers) await stopRegistrant(peer);
  await close();
  await assertNoFdLeak(t, before);
}

pythonTest('Python socket client: +, the service, HELP, and - for an unknown name', async (t) => {
  await withEcho(t, async (port) => {
    const ask = async (text) => (await within(run(python, ['-c', PYTHON_CLIENT, String(port), text]), text)).stdout;
    t.is(await ask('echo\r\nhello'), '+\r\nE\nhello');
    t.is(await ask('HELP\r\n'), 'echo\r\ntime\r\n');
    t.is(await ask('nothing\r\n'), '-unknown service\r\n');
  });
});

ncTest('netcat: +, the service, HELP, and - for an unknown name', async (t) => {
  await withEcho(t, async (port) => {
    const ask = async (text) => {
      // -N: shut the connection down for writing once stdin ends, as a client that has said all it will.
      const child = execFile('nc', ['-N', '127.0.0.1', String(port)], { encoding: 'latin1' });
      const output = new Promise((resolve, reject) => {
        let stdout = '';
        child.stdout.on('data', (chunk) => (stdout += chunk));
        child.once('error', reject);
        child.once('close', () => resolve(stdout));
      });
      child.stdin.end(text);
      return within(output, `nc's answer to ${JSON.stringify(text)}`);
    };
    t.is(await ask('ECHO\r\nfrom nc'), '+\r\nE\nfrom nc');
    t.is(await ask('help\n'), 'echo\r\ntime\r\n');
    t.is(await ask('nothing\n'), '-unknown service\r\n');
  });
});
