// offerListeners() and takeListeners() in one process, both ends of the takeover channel here, so that a
// test can look at every descriptor: 300 listeners (more than one sendmsg carries) all arrive under their
// names, accept where they were taken, and the old copies are closed once ready() completes; the errors a
// successor meets (nobody there, a uid not allowed, a listener not taken, the offer withdrawn).
import test from 'ava';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { offerListeners, takeListeners } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { askUdp, socketDirectory } from '../../helpers/generations.js';
import { within } from '../../helpers/http-load.js';

function listening(server, ...args) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(...args, () => resolve(server));
  });
}

/** Connects to a TCP port or a Unix path and resolves with the first line the server writes. */
function greeting(target) {
  return within(
    new Promise((resolve, reject) => {
      const socket = net.connect(target);
      socket.setEncoding('utf8');
      socket.once('data', (line) => {
        socket.destroy();
        resolve(line);
      });
      socket.once('error', reject);
    }),
    `a greeting from ${JSON.stringify(target)}`,
  );
}

const greeter = (who) => net.createServer((socket) => socket.end(who));

async function closeAll(servers) {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(() => resolve()))));
}

test.serial(
  '300 TCP listeners, a Unix one and a UDP socket move under their names; old copies close at ready()',
  async (t) => {
    const before = openFdCount();
    const directory = socketDirectory(t);
    const unixPath = path.join(directory, 'local.sock');
    const old = [];
    for (let index = 0; index < 300; index++) old.push(await listening(greeter('old'), 0, '127.0.0.1'));
    const oldLocal = await listening(greeter('old'), unixPath);
    const oldUdp = dgram.createSocket('udp4');
    await new Promise((resolve) => oldUdp.bind(0, '127.0.0.1', resolve));
    const listeners = Object.fromEntries(old.map((server, index) => [`tcp${index}`, server]));
    listeners.local = oldLocal;
    listeners.udp = oldUdp;
    const ports = old.map((server) => server.address().port);
    const udpPort = oldUdp.address().port;
    const offering = await offerListeners({ path: path.join(directory, 'takeover.sock'), listeners });
    const takeovers = [];
    offering.on('takeover', (successor) => takeovers.push(successor));

    const taken = await takeListeners(offering.path);
    t.is(taken.listeners.size, 302);
    t.is(taken.predecessorPid, process.pid);
    t.deepEqual(takeovers, [{ pid: process.pid, uid: process.getuid() }]);
    t.is(offering.state, 'offering');
    // Until ready(), the old process still accepts: every old server answers.
    t.is(await greeting({ port: old[299].address().port, host: '127.0.0.1' }), 'old');

    const fresh = [];
    for (let index = 0; index < 300; index++) fresh.push(await taken.listen(`tcp${index}`, greeter('new')));
    const local = await taken.listen('local', greeter('new'));
    const udp = await taken.bind('udp');
    udp.on('message', (message, from) => udp.send('new', from.port, from.address));
    t.is(taken.listeners.size, 0);
    const handedOver = offering.handedOver();
    await within(taken.ready(), 'ready() to complete');
    t.deepEqual(await handedOver, { pid: process.pid, uid: process.getuid() });
    t.is(offering.state, 'handed-over');
    t.false(fs.existsSync(offering.path), "the takeover socket's path is free for the successor");

    t.true(old.every((server) => !server.listening) && !oldLocal.listening, 'the old copies are closed');
    // The same ports, the same socket file and the same UDP port are served by the new objects now.
    for (const index of [0, 150, 299]) {
      t.is(fresh[index].address().port, ports[index]);
      t.is(await greeting({ port: ports[index], host: '127.0.0.1' }), 'new');
    }
    t.true(fs.statSync(unixPath).isSocket(), 'the Unix socket file was not unlinked by the old copy');
    t.is(await greeting({ path: unixPath }), 'new');
    t.is(await askUdp(udpPort), 'new');
    await closeAll([...fresh, local]);
    udp.close();
    await offering.close();
    await assertNoFdLeak(t, before);
  },
);

test.serial('nobody at the path, or a stale socket file: ERR_PORTUNUS_NO_PREDECESSOR', async (t) => {
  const before = openFdCount();
  const directory = socketDirectory(t);
  const missing = await t.throwsAsync(takeListeners(path.join(directory, 'nobody.sock')));
  t.is(missing.code, 'ERR_PORTUNUS_NO_PREDECESSOR');
  t.is(missing.cause.code, 'ENOENT');
  // A socket file whose process is gone.
  const stalePath = path.join(directory, 'stale.sock');
  const stale = await listening(net.createServer(), stalePath);
  fs.linkSync(stalePath, `${stalePath}.kept`);
  await new Promise((resolve) => stale.close(resolve));
  fs.renameSync(`${stalePath}.kept`, stalePath);
  const refused = await t.throwsAsync(takeListeners(stalePath));
  t.is(refused.code, 'ERR_PORTUNUS_NO_PREDECESSOR');
  t.is(refused.cause.code, 'ECONNREFUSED');
  await assertNoFdLeak(t, before);
});

test.serial('a successor whose uid is not allowed is turned away before anything is sent', async (t) => {
  const before = openFdCount();
  const directory = socketDirectory(t);
  const server = await listening(greeter('old'), 0, '127.0.0.1');
  const offering = await offerListeners({
    path: path.join(directory, 'takeover.sock'),
    listeners: { web: server },
    allow: [process.getuid() + 1],
  });
  const refusedPeers = [];
  offering.on('refused', (refused) => refusedPeers.push(refused));
  const error = await t.throwsAsync(takeListeners(offering.path, { timeoutMs: 5000 }));
  // The connection is closed before any hello: the successor cannot tell a refusal from a crash.
  t.is(error.code, 'ERR_PORTUNUS_CHANNEL_CLOSED');
  t.is(refusedPeers.length, 1);
  t.is(refusedPeers[0].error.code, 'ERR_PORTUNUS_PEER_REFUSED');
  t.is(offering.state, 'serving');
  t.true(server.listening);
  await offering.close();
  await new Promise((resolve) => server.close(resolve));
  await assertNoFdLeak(t, before);
});

test.serial(
  'ready() with a listener not taken is refused and says nothing; taking it lets ready() through',
  async (t) => {
    const before = openFdCount();
    const directory = socketDirectory(t);
    const web = await listening(greeter('old'), 0, '127.0.0.1');
    const admin = await listening(greeter('old admin'), 0, '127.0.0.1');
    const offering = await offerListeners({ path: path.join(directory, 'takeover.sock'), listeners: { web, admin } });
    const taken = await takeListeners(offering.path);
    const fresh = await taken.listen('web', greeter('new'));
    const error = await t.throwsAsync(taken.ready());
    t.is(error.code, 'ERR_PORTUNUS_TAKEOVER_FAILED');
    t.regex(error.message, /'admin'/);
    t.is(offering.state, 'offering');
    t.true(admin.listening, 'nothing stopped in the running process');
    t.throws(() => taken.takeFd('nope'), { code: 'ERR_INVALID_ARG_VALUE' });
    const freshAdmin = await taken.listen('admin', greeter('new admin'));
    await within(taken.ready(), 'ready()');
    t.false(admin.listening);
    await closeAll([fresh, freshAdmin]);
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'the running process closes its takeover server mid-takeover: the successor is told, nothing stops here',
  async (t) => {
    const before = openFdCount();
    const directory = socketDirectory(t);
    const web = await listening(greeter('old'), 0, '127.0.0.1');
    const offering = await offerListeners({ path: path.join(directory, 'takeover.sock'), listeners: { web } });
    const taken = await takeListeners(offering.path);
    const fresh = await taken.listen('web', greeter('new'));
    const handedOver = offering.handedOver();
    await offering.close();
    t.is((await t.throwsAsync(handedOver)).code, 'ERR_PORTUNUS_TAKEOVER_FAILED');
    const error = await t.throwsAsync(taken.ready());
    t.is(error.code, 'ERR_PORTUNUS_TAKEOVER_FAILED');
    t.true(web.listening, 'the running process still serves');
    t.is(offering.state, 'closed');
    // The successor's copy accepts too until it is closed: the caller's to decide.
    await closeAll([fresh, web]);
    await assertNoFdLeak(t, before);
  },
);
