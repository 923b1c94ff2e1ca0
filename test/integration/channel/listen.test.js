// listenChannel() and connectChannel() on socket paths and abstract names: who may create the socket
// where (0600 file, 0700 directory, refusal of an open or symlinked directory), stale and live socket
// files, the credential check on both sides, and clients that fail the handshake (garbage, silence)
// being turned away without ever reaching the application. Every test compares this process's open
// descriptor count before and after.
import test from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connectChannel, listenChannel } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { spawnFixture } from '../../helpers/spawn-fixture.js';
import { once, until, within } from '../../helpers/within.js';

const OWN_CREDENTIALS = { pid: process.pid, uid: process.geteuid(), gid: process.getegid() };

/** A fresh private (0700) directory, removed at teardown. */
function privateDirectory(t) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-listen-'));
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/** Listens on `socketPath`; the server is closed at teardown. Records 'channel' and 'clientError'. */
async function listen(t, socketPath, options) {
  const server = await listenChannel(socketPath, options);
  const seen = { channels: [], clientErrors: [], refused: [] };
  server.on('channel', (channel) => {
    seen.channels.push(channel);
    channel.on('error', () => {});
  });
  server.on('clientError', (error, credentials) => seen.clientErrors.push({ error, credentials }));
  server.on('refused', (refused) => seen.refused.push(refused));
  t.teardown(async () => {
    for (const channel of seen.channels) channel.destroy();
    await server.close();
  });
  return { server, seen };
}

/** A raw client on `socketPath` that reads (and keeps) whatever the server sends. */
async function rawClient(socketPath) {
  const socket = net.connect(socketPath);
  const state = { socket, data: Buffer.alloc(0), closed: new Promise((resolve) => socket.once('close', resolve)) };
  socket.on('data', (chunk) => (state.data = Buffer.concat([state.data, chunk])));
  socket.on('error', () => {});
  await once(socket, 'connect', 'the raw client to connect');
  return state;
}

function mode(file) {
  return fs.statSync(file).mode & 0o777;
}

test.serial(
  'the socket file is 0600, in a directory created 0700; a client connects and messages flow both ways',
  async (t) => {
    const before = openFdCount();
    const base = privateDirectory(t);
    const directory = path.join(base, 'missing', 'nested');
    const socketPath = path.join(directory, 'channel.sock');
    const { server } = await listen(t, socketPath);
    t.is(server.path, socketPath);
    t.is(mode(path.join(base, 'missing')), 0o700);
    t.is(mode(directory), 0o700);
    t.true(fs.lstatSync(socketPath).isSocket());
    t.is(mode(socketPath), 0o600);

    const accepted = once(server, 'channel', "the server's channel");
    const client = await within(connectChannel(socketPath), 'connectChannel');
    const serverSide = await accepted;
    const toServer = once(serverSide, 'message', 'the message at the server');
    await client.send('from the client');
    t.is((await toServer).text(), 'from the client');
    const toClient = once(client, 'message', 'the message at the client');
    await serverSide.send('from the server');
    t.is((await toClient).text(), 'from the server');
    t.deepEqual(serverSide.peerCredentials(), OWN_CREDENTIALS);

    await within(Promise.all([client.close(), serverSide.close()]), 'both closes');
    await server.close();
    await assertNoFdLeak(t, before);
  },
);

for (const unsafe of [0o750, 0o705, 0o770, 0o777]) {
  test.serial(
    `an existing directory with mode ${unsafe.toString(8)} is refused with ERR_PORTUNUS_INSECURE_PATH`,
    async (t) => {
      const before = openFdCount();
      const directory = privateDirectory(t);
      fs.chmodSync(directory, unsafe);
      const socketPath = path.join(directory, 'channel.sock');
      const error = await t.throwsAsync(listenChannel(socketPath));
      t.is(error.code, 'ERR_PORTUNUS_INSECURE_PATH');
      t.false(fs.existsSync(socketPath));
      t.is(mode(directory), unsafe, 'the directory was changed behind our back');
      await assertNoFdLeak(t, before);
    },
  );
}

test.serial('a directory reached through a symlink is refused with ERR_PORTUNUS_INSECURE_PATH', async (t) => {
  const before = openFdCount();
  const base = privateDirectory(t);
  fs.mkdirSync(path.join(base, 'real'), { mode: 0o700 });
  fs.symlinkSync(path.join(base, 'real'), path.join(base, 'link'));
  const error = await t.throwsAsync(listenChannel(path.join(base, 'link', 'channel.sock')));
  t.is(error.code, 'ERR_PORTUNUS_INSECURE_PATH');
  t.deepEqual(fs.readdirSync(path.join(base, 'real')), []);
  await assertNoFdLeak(t, before);
});

test.serial('a socket file left by a killed listener is replaced', async (t) => {
  const before = openFdCount();
  const socketPath = path.join(privateDirectory(t), 'channel.sock');
  const child = spawnFixture(t, 'listen-on-path-until-killed', { args: [socketPath] });
  await child.reports.take('listening');
  child.child.kill('SIGKILL');
  await within(child.exited, 'the listener to die');
  t.true(fs.lstatSync(socketPath).isSocket(), 'no stale socket file: the test proves nothing');
  const probe = net.connect(socketPath);
  t.is((await once(probe, 'error', 'the refused connection')).code, 'ECONNREFUSED');

  const { server } = await listen(t, socketPath);
  const accepted = once(server, 'channel', "the server's channel");
  const client = await within(connectChannel(socketPath), 'connectChannel');
  const serverSide = await accepted;
  t.true((await within(client.ping(), 'a pong')) >= 0);
  await within(Promise.all([client.close(), serverSide.close()]), 'both closes');
  await server.close();
  await assertNoFdLeak(t, before);
});

test.serial(
  'a socket someone still listens on is left alone: EADDRINUSE, and the first server keeps working',
  async (t) => {
    const before = openFdCount();
    const socketPath = path.join(privateDirectory(t), 'channel.sock');
    const { server } = await listen(t, socketPath);
    const error = await t.throwsAsync(listenChannel(socketPath));
    t.is(error.code, 'EADDRINUSE');
    const accepted = once(server, 'channel', "the first server's channel");
    const client = await within(connectChannel(socketPath), 'connectChannel to the first server');
    const serverSide = await accepted;
    await within(Promise.all([client.close(), serverSide.close()]), 'both closes');
    await server.close();
    await assertNoFdLeak(t, before);
  },
);

(process.platform === 'linux' ? test.serial : test.skip)(
  'an abstract name works and leaves nothing on the filesystem',
  async (t) => {
    const before = openFdCount();
    const name = `\0portunus-test-${crypto.randomBytes(8).toString('hex')}`;
    const { server } = await listen(t, name);
    const accepted = once(server, 'channel', "the server's channel");
    const client = await within(connectChannel(name), 'connectChannel');
    const serverSide = await accepted;
    const received = once(serverSide, 'message', 'the message');
    await client.send('over an abstract socket');
    t.is((await received).text(), 'over an abstract socket');
    await within(Promise.all([client.close(), serverSide.close()]), 'both closes');
    await server.close();
    const error = await t.throwsAsync(connectChannel(name));
    t.is(error.code, 'ECONNREFUSED');
    await assertNoFdLeak(t, before);
  },
);

const REFUSING = {
  'allow: []': () => [],
  'allow: a function returning false': (calls) => (credentials) => {
    calls.push(credentials);
    return false;
  },
};

for (const [label, makeAllow] of Object.entries(REFUSING)) {
  test.serial(
    `${label} refuses our own uid: 'refused' with the client's credentials, the client is turned away`,
    async (t) => {
      const before = openFdCount();
      const socketPath = path.join(privateDirectory(t), 'channel.sock');
      const calls = [];
      const allow = makeAllow(calls);
      const { server, seen } = await listen(t, socketPath, { allow });
      const refused = once(server, 'refused', "'refused'");
      const outcome = await within(
        connectChannel(socketPath).then(
          (channel) => channel,
          (error) => error,
        ),
        'connectChannel to settle',
      );
      const { credentials, error } = await refused;
      t.deepEqual(credentials, OWN_CREDENTIALS);
      t.is(error.code, 'ERR_PORTUNUS_PEER_REFUSED');
      if (typeof allow === 'function') t.deepEqual(calls, [OWN_CREDENTIALS]);
      // The server closes the connection before saying anything: the client never gets a channel.
      t.true(outcome instanceof Error, 'connectChannel resolved with a channel');
      t.true(
        ['ERR_PORTUNUS_CHANNEL_CLOSED', 'ECONNRESET', 'EPIPE'].includes(outcome.code),
        `client error ${outcome.code}`,
      );
      t.deepEqual(seen.channels, []);
      t.deepEqual(seen.clientErrors, []);
      await server.close();
      await assertNoFdLeak(t, before);
    },
  );
}

test.serial(
  "connectChannel's allow refuses the server: ERR_PORTUNUS_PEER_REFUSED, and the server gets no channel",
  async (t) => {
    const before = openFdCount();
    const socketPath = path.join(privateDirectory(t), 'channel.sock');
    const { server, seen } = await listen(t, socketPath);
    const clientError = once(server, 'clientError', "the server's 'clientError'");
    const error = await t.throwsAsync(connectChannel(socketPath, { allow: [] }));
    t.is(error.code, 'ERR_PORTUNUS_PEER_REFUSED');
    t.deepEqual(error.credentials, OWN_CREDENTIALS);
    // The client hung up without a hello: a failed handshake on the server's side.
    await clientError;
    t.deepEqual(seen.channels, []);
    await server.close();
    await assertNoFdLeak(t, before);
  },
);

const GARBAGE = {
  'an HTTP request': { bytes: Buffer.from('GET / HTTP/1.1\r\nHost: portunus\r\n\r\n'), code: 'ERR_PORTUNUS_BAD_FRAME' },
  'a header of protocol version 2': {
    bytes: Buffer.from([0x50, 0x4e, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    code: 'ERR_PORTUNUS_VERSION_MISMATCH',
  },
  'a DATA frame instead of a hello': {
    bytes: Buffer.from([0x50, 0x4e, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    code: 'ERR_PORTUNUS_BAD_FRAME',
  },
};

for (const [label, { bytes, code }] of Object.entries(GARBAGE)) {
  test.serial(
    `a client sending ${label} gets 'clientError' (${code}), never 'channel', and is disconnected`,
    async (t) => {
      const before = openFdCount();
      const socketPath = path.join(privateDirectory(t), 'channel.sock');
      const { server, seen } = await listen(t, socketPath);
      const clientError = once(server, 'clientError', "'clientError'");
      const client = await rawClient(socketPath);
      client.socket.write(bytes);
      const [error, credentials] = await clientError;
      t.is(error.code, code);
      t.deepEqual(credentials, OWN_CREDENTIALS);
      await within(client.closed, 'the server to hang up');
      t.deepEqual(seen.channels, []);
      await server.close();
      await assertNoFdLeak(t, before);
    },
  );
}

test.serial(
  "a client that says nothing gets 'clientError' ERR_PORTUNUS_HANDSHAKE_TIMEOUT and is disconnected",
  async (t) => {
    const before = openFdCount();
    const socketPath = path.join(privateDirectory(t), 'channel.sock');
    const { server, seen } = await listen(t, socketPath, { handshakeTimeoutMs: 300 });
    const clientError = once(server, 'clientError', "'clientError'");
    const client = await rawClient(socketPath);
    const [error] = await clientError;
    t.is(error.code, 'ERR_PORTUNUS_HANDSHAKE_TIMEOUT');
    await within(client.closed, 'the server to hang up');
    // The server did say hello: type 0x01 first.
    t.is(client.data[3], 0x01);
    t.deepEqual(seen.channels, []);
    await server.close();
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'close() unlinks the socket file and hangs up on handshakes in progress; channels handed out stay open',
  async (t) => {
    const before = openFdCount();
    const socketPath = path.join(privateDirectory(t), 'channel.sock');
    const { server, seen } = await listen(t, socketPath);
    const accepted = once(server, 'channel', "the server's channel");
    const client = await within(connectChannel(socketPath), 'connectChannel');
    const serverSide = await accepted;
    const silent = await rawClient(socketPath);
    // The silent client is in its handshake once the server has sent its hello.
    await until(() => silent.data.length > 0, "the server's hello to the silent client");
    const closed = once(server, 'close', "the server's 'close'");
    await within(server.close(), 'server.close()');
    await closed;
    t.false(fs.existsSync(socketPath));
    await within(silent.closed, 'the server to hang up on the silent client');
    t.deepEqual(seen.clientErrors, []);
    t.true((await within(client.ping(), 'a pong on the channel handed out')) >= 0);
    const error = await t.throwsAsync(connectChannel(socketPath));
    t.is(error.code, 'ENOENT');
    await within(Promise.all([client.close(), serverSide.close()]), 'both closes');
    await assertNoFdLeak(t, before);
  },
);
