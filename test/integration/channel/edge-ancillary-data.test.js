// Unusual ancillary data from a Python peer. Other control messages than SCM_RIGHTS: a channel socket with
// SO_PASSCRED set gets SCM_CREDENTIALS with every read; the receiver must skip it, take the descriptors that
// come with it, and size its control buffer for both, so that a full chunk of descriptors plus credentials is
// not truncated (the socket comes from Python: Node cannot set SO_PASSCRED). And SCM_RIGHTS split over two
// control messages in one sendmsg, or with a partial int after the descriptors.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { channelFromFd, socketPairForChild } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { RawEndpoint, addon, within } from '../../helpers/raw-endpoint.js';

const PEER = fileURLToPath(new URL('../../fixtures/python-send-credentials.py', import.meta.url));
const SPLIT_RIGHTS_PEER = fileURLToPath(new URL('../../fixtures/python-send-split-rights.py', import.meta.url));
const python = ['python3', 'python'].find(
  (name) =>
    spawnSync(name, ['-c', 'import socket; socket.send_fds; socket.SO_PASSCRED; socket.SCM_CREDENTIALS'], {
      stdio: 'ignore',
    }).status === 0,
);
// SCM_CREDENTIALS is Linux's; elsewhere (or without Python) there is nothing to test.
const linuxPythonTest =
  process.platform === 'linux' && (python !== undefined || process.env.CI === 'true') ? test.serial : test.skip;

linuxPythonTest(
  'SCM_CREDENTIALS next to SCM_RIGHTS is skipped; descriptors, a full chunk included, arrive whole',
  async (t) => {
    const before = openFdCount();
    const [mine, theirs] = addon.socketPair('stream');
    let stderr = '';
    const child = spawn(python, [PEER, '3'], { stdio: ['ignore', 'ignore', 'pipe', theirs] });
    addon.close(theirs);
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    t.teardown(() => child.kill('SIGKILL'));
    const exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));

    const link = new RawEndpoint(mine);
    t.teardown(() => link.close());
    await link.until((r) => r.reads.length === 1, `the SO_PASSCRED socket (stderr: ${stderr})`);
    const [fd] = link.takeFds();
    const channel = channelFromFd(fd);
    t.teardown(() => channel.destroy());
    const warnings = [];
    channel.on('warning', (error) => warnings.push(error));
    const messages = [];
    const all = within(
      new Promise((resolve) => {
        channel.on('message', (message) => {
          const fds = message.takeFds();
          const kinds = new Set(fds.map((received) => (fs.fstatSync(received).isFIFO() ? 'fifo' : 'other')));
          const texts = fds.length <= 2 ? fds.map((received) => fs.readFileSync(received, 'latin1')) : [];
          for (const received of fds) addon.close(received);
          messages.push({ payload: message.text(), count: fds.length, kinds: [...kinds], texts });
          if (messages.length === 3) resolve();
        });
      }),
      'three messages',
    );
    await all;
    t.deepEqual(messages, [
      { payload: 'with credentials', count: 2, kinds: ['fifo'], texts: ['pipe 0', 'pipe 1'] },
      { payload: 'full chunk with credentials', count: 253, kinds: ['fifo'], texts: [] },
      { payload: 'plain', count: 0, kinds: [], texts: [] },
    ]);
    t.deepEqual(
      warnings.map((w) => w.code),
      [],
    );
    await channel.close();
    t.deepEqual(await within(exited, 'the Python peer to exit'), { code: 0, signal: null }, stderr);
    link.close();
    await assertNoFdLeak(t, before);
  },
);

linuxPythonTest(
  'SCM_RIGHTS split over two control messages, and with a partial int, gives every whole descriptor in order',
  async (t) => {
    const before = openFdCount();
    const { channel, childFd, closeChildFd } = socketPairForChild();
    let stderr = '';
    const child = spawn(python, [SPLIT_RIGHTS_PEER, '3'], { stdio: ['ignore', 'ignore', 'pipe', childFd] });
    closeChildFd();
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    t.teardown(() => child.kill('SIGKILL'));
    const exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
    const warnings = [];
    channel.on('warning', (error) => warnings.push(error));
    const messages = [];
    const all = within(
      new Promise((resolve) => {
        channel.on('message', (message) => {
          const fds = message.takeFds();
          const texts = fds.map((received) => fs.readFileSync(received, 'latin1'));
          for (const received of fds) addon.close(received);
          messages.push({ payload: message.text(), texts });
          if (messages.length === 3) resolve();
        });
      }),
      'three messages',
    );
    await all.catch((error) => {
      throw new Error(`${error.message} (stderr: ${stderr})`);
    });
    t.deepEqual(messages, [
      { payload: 'two rights messages', texts: ['pipe 0', 'pipe 1', 'pipe 2'] },
      { payload: 'partial int', texts: ['pipe 3'] },
      { payload: 'done', texts: [] },
    ]);
    t.deepEqual(warnings, []);
    await channel.close();
    t.deepEqual(await within(exited, 'the Python peer to exit'), { code: 0, signal: null }, stderr);
    await assertNoFdLeak(t, before);
  },
);
