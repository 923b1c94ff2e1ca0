// notifyServiceManager() against a stand-in for systemd's notification socket written in Python (a Unix
// datagram socket with SO_PASSCRED, as systemd binds it): each state arrives as one datagram of KEY=value
// lines, and the kernel names the sending process, which is what systemd goes by. Both address forms of
// NOTIFY_SOCKET: a path and an abstract '@name'.
import test from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { notifyServiceManager } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { fixture, waitFor } from '../../helpers/http-load.js';
import { findPython, startPythonPeer } from '../../helpers/python-peer.js';

const python = findPython('import socket; socket.SO_PASSCRED');

function temporaryDirectory(t) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-notify-'));
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  return directory;
}

async function serviceManager(t, address) {
  const peer = startPythonPeer(t, python, [fixture('python-notify-socket.py'), address]);
  await peer.event('bound');
  return peer;
}

const messages = (peer) => peer.events.filter((event) => event.event === 'message');

(python === undefined ? test.skip : test)(
  'each state is one datagram of sd_notify lines from this process, to a path and to an abstract name',
  async (t) => {
    const before = openFdCount();
    const addresses = [path.join(temporaryDirectory(t), 'notify.sock')];
    if (process.platform === 'linux') addresses.push(`@portunus-notify-${crypto.randomUUID()}`);
    for (const address of addresses) {
      const peer = await serviceManager(t, address);
      const env = { NOTIFY_SOCKET: address };
      t.true(notifyServiceManager({ ready: true, status: 'serving 127.0.0.1:8080' }, env));
      t.true(notifyServiceManager({ mainPid: 4242, status: 'handed over' }, env));
      t.true(notifyServiceManager({ stopping: true }, env));
      await waitFor(() => messages(peer).length === 3, `three messages at ${address}`);
      t.deepEqual(
        messages(peer).map((message) => message.fields),
        [
          { READY: '1', STATUS: 'serving 127.0.0.1:8080' },
          { MAINPID: '4242', STATUS: 'handed over' },
          { STOPPING: '1' },
        ],
      );
      t.true(messages(peer).every((message) => message.pid === process.pid && message.uid === process.getuid()));
      peer.child.kill('SIGKILL');
      await peer.exited();
    }
    await assertNoFdLeak(t, before);
  },
);

test('without NOTIFY_SOCKET nothing is sent; a socket nobody reads is an error with a code, and nothing leaks', (t) => {
  const before = openFdCount();
  t.false(notifyServiceManager({ ready: true }, {}));
  t.false(notifyServiceManager({ ready: true }, { NOTIFY_SOCKET: '' }));
  const missing = path.join(temporaryDirectory(t), 'nobody.sock');
  const error = t.throws(() => notifyServiceManager({ ready: true }, { NOTIFY_SOCKET: missing }));
  t.is(error.code, 'ENOENT');
  t.is(error.syscall, 'sendto');
  t.is(openFdCount(), before);
});
