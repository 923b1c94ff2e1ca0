// Linux abstract socket names are bound and connected with their exact length (offsetof(sun_path) + 1 +
// the name's bytes), the way Python, Go, socat and systemd address them, not padded with NULs to the whole
// of sun_path as Node 20 does: a Python peer connects to listenChannel('\0name') and connectChannel('\0name')
// reaches a Python listener, and the credential check applies on both sides. A padded name (what portunus
// on Node 20 used to bind) is a different address; a full accept queue is an immediate EAGAIN, never a wait.
// Every test compares this process's open descriptor count before and after.
import test from 'ava';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connectChannel, listenChannel, socketPairForChild } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { findPython, startPythonPeer } from '../../helpers/python-peer.js';
import { addon } from '../../helpers/raw-endpoint.js';
import { Reports } from '../../helpers/reports.js';
import { once, within } from '../../helpers/within.js';

const PEER = fileURLToPath(new URL('../../fixtures/python-abstract-peer.py', import.meta.url));
const AT_FD_LIMIT = fileURLToPath(new URL('../../fixtures/listen-at-fd-limit.js', import.meta.url));
const OWN_CREDENTIALS = { pid: process.pid, uid: process.geteuid(), gid: process.getegid() };
const linux = process.platform === 'linux';
const python = linux ? findPython('import socket; socket.SO_PEERCRED') : undefined;

/** Starts the Python peer with `args`. */
function startPeer(t, args) {
  if (python === undefined) throw new Error('python3 is required for this test');
  return startPythonPeer(t, python, [PEER, ...args]);
}
const linuxTest = linux ? test.serial : test.skip;
// On CI a missing Python is a failure, not a skip: the interoperability claim would go untested.
const linuxPythonTest = linux && (python !== undefined || process.env.CI === 'true') ? test.serial : test.skip;

/** A unique abstract name, without its leading NUL. */
function uniqueName() {
  return `portunus-test-${crypto.randomBytes(8).toString('hex')}`;
}

/** The addresses of listening abstract sockets whose name starts with `name`, as /proc/net/unix shows them ('@' for NUL). */
function listedAbstractAddresses(name) {
  return fs
    .readFileSync('/proc/net/unix', 'latin1')
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[7])
    .filter((address) => address !== undefined && address.startsWith(`@${name}`));
}

linuxPythonTest(
  "a Python client connecting to the exact name reaches listenChannel('\\0name'), which checks its credentials; the name is taken exactly",
  async (t) => {
    const before = openFdCount();
    const name = uniqueName();
    let decisions = 0;
    // Refuses the first client and allows the next: the check is made on this kind of socket too.
    const server = await within(
      listenChannel(`\0${name}`, { allow: (credentials) => decisions++ > 0 && credentials.uid === process.geteuid() }),
      'listenChannel',
    );
    try {
      // The kernel's own record of the listener: the name, and not one NUL byte after it.
      t.deepEqual(listedAbstractAddresses(name), [`@${name}`]);
      const again = await t.throwsAsync(within(listenChannel(`\0${name}`), 'a second listenChannel on the name'));
      t.is(again.code, 'EADDRINUSE');
      t.is(again.syscall, 'bind');

      const refused = once(server, 'refused', "'refused' for the first Python client");
      const turnedAway = startPeer(t, ['--connect', name]);
      const { credentials, error } = await refused;
      t.is(error.code, 'ERR_PORTUNUS_PEER_REFUSED');
      t.is(credentials.pid, turnedAway.child.pid);
      t.is((await turnedAway.exited()).code, 1);

      const accepted = once(server, 'channel', "the Python peer's channel");
      const peer = startPeer(t, ['--connect', name]);
      const channel = await accepted;
      channel.on('error', () => {});
      t.is(channel.peerCredentials().pid, peer.child.pid);
      t.is(channel.peer.pid, peer.child.pid);
      t.deepEqual(await peer.event('peer'), { event: 'peer', ...OWN_CREDENTIALS });

      const message = await once(channel, 'message', "the Python peer's message");
      t.is(message.text(), 'hello from python');
      await channel.send('answer from node');
      t.is((await peer.event('answer')).payload, 'answer from node');
      await peer.event('done');
      t.deepEqual(await peer.exited(), { code: 0, signal: null }, peer.stderr());
      t.is(await within(channel.closed, 'the channel to end with the Python peer'), undefined);
    } finally {
      await server.close();
    }
    await assertNoFdLeak(t, before);
  },
);

linuxPythonTest(
  "connectChannel('\\0name') reaches a Python listener bound to the exact name, checks its credentials, and talks both ways",
  async (t) => {
    const before = openFdCount();
    const name = uniqueName();
    const peer = startPeer(t, ['--listen', name]);
    // What Python bound: a NUL and the name, nothing more.
    t.is((await peer.event('listening')).address, Buffer.from(`\0${name}`).toString('hex'));
    const refused = await t.throwsAsync(
      within(connectChannel(`\0${name}`, { allow: [] }), 'connectChannel with allow: []'),
    );
    t.is(refused.code, 'ERR_PORTUNUS_PEER_REFUSED');
    t.is(refused.credentials.pid, peer.child.pid);
    await peer.event('abandoned');

    const channel = await within(connectChannel(`\0${name}`), 'connectChannel');
    channel.on('error', () => {});
    t.is(channel.peerCredentials().pid, peer.child.pid);
    t.deepEqual(await peer.event('peer'), { event: 'peer', ...OWN_CREDENTIALS });
    t.is((await peer.event('hello')).peer.pid, process.pid);
    t.true((await within(channel.ping(), 'a pong from Python')) >= 0);
    const echoed = once(channel, 'message', 'the echo');
    await channel.send('from node');
    t.is((await echoed).text(), 'echo: from node');
    await within(channel.close(), 'close()');
    await peer.event('done');
    t.deepEqual(await peer.exited(), { code: 0, signal: null }, peer.stderr());
    await assertNoFdLeak(t, before);
  },
);

linuxTest(
  'a name padded with NULs to the whole of sun_path, as portunus bound it on Node 20, is another address: reached only by spelling out the padding',
  async (t) => {
    const before = openFdCount();
    const name = `\0${uniqueName()}`;
    const padded = name.padEnd(addon.sunPathSize, '\0');
    const server = await within(listenChannel(padded), 'listenChannel on the padded name');
    try {
      const error = await t.throwsAsync(within(connectChannel(name), 'connectChannel to the bare name'));
      t.is(error.code, 'ECONNREFUSED');
      t.is(error.syscall, 'connect');
      t.is(error.address, name);
      const accepted = once(server, 'channel', "the server's channel");
      const client = await within(connectChannel(padded), 'connectChannel to the padded name');
      const serverSide = await accepted;
      t.true((await within(client.ping(), 'a pong')) >= 0);
      await within(Promise.all([client.close(), serverSide.close()]), 'both closes');
    } finally {
      await server.close();
    }
    await assertNoFdLeak(t, before);
  },
);

linuxTest(
  'connectChannel() to an abstract name whose accept queue is full rejects with EAGAIN at once instead of waiting for room',
  async (t) => {
    const before = openFdCount();
    const name = `\0${uniqueName()}`;
    // A listener that never accepts, with room for a single waiting connection (backlog 0).
    const listener = addon.listenAbstract(Buffer.from(name), 0);
    try {
      const first = connectChannel(name, { handshakeTimeoutMs: 300 }).then(
        (channel) => channel,
        (error) => error,
      );
      const error = await t.throwsAsync(within(connectChannel(name), 'connectChannel to the full queue'));
      t.is(error.code, 'EAGAIN');
      t.is(error.syscall, 'connect');
      t.is(error.address, name);
      t.regex(error.message, /accept queue is full/);
      // The first connection got in, but nobody ever says hello on it.
      t.is((await within(first, 'the first connectChannel to give up')).code, 'ERR_PORTUNUS_HANDSHAKE_TIMEOUT');
    } finally {
      addon.close(listener);
    }
    await assertNoFdLeak(t, before);
  },
);

linuxTest(
  'a connection that arrives while the server is out of descriptors waits in the queue: EMFILE is reported, and it becomes a channel once descriptors are free',
  async (t) => {
    const before = openFdCount();
    const name = uniqueName();
    const { channel: toChild, childFd, closeChildFd } = socketPairForChild();
    // `ulimit -n` sets both limits: Node raises its soft limit to the hard one at startup, so both must be low.
    const child = spawn('sh', ['-c', 'ulimit -n 256 && exec "$0" "$@"', process.execPath, AT_FD_LIMIT, name], {
      stdio: ['ignore', 'inherit', 'inherit', childFd],
    });
    closeChildFd();
    const exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
    t.teardown(() => child.kill('SIGKILL'));
    toChild.on('error', () => {});
    const reports = new Reports(toChild);
    let channel;
    try {
      await reports.take('listening');
      await toChild.send(JSON.stringify({ cmd: 'fill' }));
      await reports.take('filled');

      const connecting = connectChannel(`\0${name}`);
      connecting.catch(() => {});
      t.like(await reports.take('error'), { code: 'EMFILE', syscall: 'accept' });
      await toChild.send(JSON.stringify({ cmd: 'release' }));
      await reports.take('released');
      channel = await within(connecting, 'the queued connection to become a channel');
      await reports.take('channel');
      t.true((await within(channel.ping(), 'a pong from the child')) >= 0);
    } finally {
      channel?.destroy();
      toChild.destroy();
    }
    t.deepEqual(await within(exited, 'the child to exit'), { code: 0, signal: null });
    await assertNoFdLeak(t, before);
  },
);
