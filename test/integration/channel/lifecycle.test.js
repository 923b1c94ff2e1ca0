// The life of a channel: close() drains, destroy() does not, `ready` carries the peer's hello, descriptors
// nobody takes are closed (and the peer of a sent socket sees EOF only once every copy is closed),
// backpressure against a peer that does not read, a peer killed in the middle of a stream, and ping
// against a peer that answers, one that never does and one that is stopped. Every test compares this
// process's open descriptor count before and after.
import test from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import { fdBackend } from '../../../dist/binding/index.js';
import { channelFromFd, channelPair } from '../../../dist/index.js';
import { closeFd } from '../../../dist/fd.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { spawnFixture } from '../../helpers/spawn-fixture.js';
import { once, until, within } from '../../helpers/within.js';

const turn = () => new Promise((resolve) => setImmediate(resolve));

/** What a send settled with: 'sent', or the error. */
const outcome = (promise) =>
  promise.then(
    () => 'sent',
    (error) => error,
  );

/** A HELLO frame as a version-1 peer writes it (docs/protocol.md). */
function helloFrame() {
  const payload = Buffer.from(JSON.stringify({ protocol: 1, pid: process.pid, capabilities: [] }));
  const header = Buffer.alloc(16);
  header.write('PN', 0, 'latin1');
  header[2] = 1;
  header[3] = 0x01;
  header.writeUInt32BE(payload.length, 8);
  return Buffer.concat([header, payload]);
}

/** A connected socketpair: a channel on one end, the other end raw and unread until the test says so. */
function channelWithSilentPeer(options) {
  const [mine, theirs] = fdBackend.socketPair('stream');
  const channel = channelFromFd(mine, options);
  channel.on('error', () => {});
  return { channel, peerFd: theirs };
}

/** Two connected channels in this process, both past their hello. */
async function readyPair() {
  const [a, b] = channelPair();
  await within(Promise.all([a.ready, b.ready]), 'both hellos');
  return [a, b];
}

/** Wraps a raw socket descriptor (taking ownership) and records what it reads and whether it saw EOF. */
function watchSocket(fd) {
  const socket = new net.Socket({ fd, readable: true, writable: true });
  const state = { socket, data: '', ended: false };
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => (state.data += chunk));
  socket.on('end', () => (state.ended = true));
  socket.on('error', () => {});
  return state;
}

test.serial('close() writes every queued frame first: the peer gets all of them, then a clean close', async (t) => {
  const before = openFdCount();
  const [a, b] = channelPair();
  const received = [];
  b.on('message', (message) => received.push(message.payload.readUInt32BE(0)));
  const bClosed = new Promise((resolve) => b.once('close', (error) => resolve({ error, count: received.length })));
  // 16 MiB: far more than a socket buffer holds, so most of it is still queued when close() is called.
  const count = 64;
  const sends = [];
  for (let i = 0; i < count; i++) {
    const payload = Buffer.alloc(256 * 1024);
    payload.writeUInt32BE(i);
    sends.push(outcome(a.send(payload)));
  }
  const closing = a.close();
  t.true(a.queuedBytes > 0, 'nothing was queued when close() was called: the test proves nothing');
  t.true(a.isClosed);
  const late = await a.send('after close()').catch((error) => error);
  t.is(late.code, 'ERR_PORTUNUS_CHANNEL_CLOSED');
  await within(closing, 'close() to resolve');
  t.deepEqual(await Promise.all(sends), Array(count).fill('sent'));
  const { error, count: beforeClose } = await within(bClosed, "the peer's close");
  t.is(error, undefined);
  t.is(beforeClose, count, "the peer saw 'close' before every frame");
  t.deepEqual(
    received,
    Array.from({ length: count }, (_, i) => i),
  );
  await assertNoFdLeak(t, before);
});

test.serial(
  'destroy() is immediate and idempotent; queued sends and pending pings reject with ERR_PORTUNUS_CHANNEL_CLOSED',
  async (t) => {
    const before = openFdCount();
    // The peer reads nothing: what the kernel does not take stays queued here.
    const { channel: stuck, peerFd: silent } = channelWithSilentPeer();
    const sends = [];
    for (let i = 0; i < 16; i++) sends.push(outcome(stuck.send(Buffer.alloc(1024 * 1024))));
    await turn();
    t.true(stuck.queuedBytes > 0, 'the kernel took everything: the test proves nothing');
    const pinged = outcome(stuck.ping(60_000));
    const events = [];
    stuck.on('error', (error) => events.push(['error', error]));
    stuck.on('close', (error) => events.push(['close', error]));
    const cause = new Error('stopped by the test');
    stuck.destroy(cause);
    // Synchronous: by the time destroy() returns, the channel is closed and has said so.
    t.true(stuck.isClosed);
    t.is(stuck.queuedBytes, 0);
    t.deepEqual(events, [
      ['error', cause],
      ['close', cause],
    ]);
    stuck.destroy();
    stuck.destroy(new Error('again'));
    t.is(events.length, 2, 'a second destroy() emitted again');
    t.is(await stuck.closed, cause);
    for (const result of await within(Promise.all(sends), 'every send to settle')) {
      t.is(result.code, 'ERR_PORTUNUS_CHANNEL_CLOSED');
      t.is(result.cause, cause);
    }
    t.is((await pinged).code, 'ERR_PORTUNUS_CHANNEL_CLOSED');
    t.is((await outcome(stuck.send('later'))).code, 'ERR_PORTUNUS_CHANNEL_CLOSED');
    t.is((await outcome(stuck.ping())).code, 'ERR_PORTUNUS_CHANNEL_CLOSED');
    closeFd(silent);
    await assertNoFdLeak(t, before);
  },
);

test.serial("`ready` resolves with the child's hello; `peer` keeps it", async (t) => {
  const before = openFdCount();
  const { channel, child } = spawnFixture(t, 'echo-messages');
  const hello = await within(channel.ready, "the child's hello");
  t.is(hello.protocol, 1);
  t.is(hello.pid, child.pid);
  t.true(hello.capabilities.includes('fd-chunking'));
  t.deepEqual(channel.peer, hello);
  t.is(channel.peerCredentials().uid, process.geteuid());
  await within(channel.close(), 'the close');
  await assertNoFdLeak(t, before);
});

test.serial('`ready` rejects when the channel closes before the hello', async (t) => {
  const before = openFdCount();
  const [a, b] = channelPair();
  // a's hello is still queued (it leaves on the next tick): destroyed now, it never reaches b.
  a.destroy();
  t.is((await outcome(a.ready)).code, 'ERR_PORTUNUS_CHANNEL_CLOSED');
  const error = await outcome(within(b.ready, "b's ready to settle"));
  t.not(error, 'sent');
  t.true(b.isClosed);
  await assertNoFdLeak(t, before);
});

for (const listener of ['a listener that takes nothing', 'no listener']) {
  test.serial(
    `descriptors of a message nobody takes are closed (${listener}); the peer of the sent socket sees EOF`,
    async (t) => {
      const before = openFdCount();
      const [a, b] = await readyPair();
      const [sent, peer] = fdBackend.socketPair('stream');
      const seen = [];
      if (listener !== 'no listener') b.on('message', (message) => seen.push(message));
      await within(a.send('unclaimed', [sent]), 'the send');
      closeFd(sent);
      const watched = watchSocket(peer);
      // Our copy is closed; only b's copy could keep the connection open.
      await until(() => watched.ended, 'EOF on the peer of the unclaimed socket');
      if (listener !== 'no listener') {
        t.is(seen.length, 1);
        t.is(seen[0].fdCount, 1);
        // After the listener returned, nothing is left to take: the descriptor is closed, not handed out.
        t.deepEqual(seen[0].takeFds(), []);
      }
      watched.socket.destroy();
      await within(Promise.all([a.close(), b.close()]), 'both closes');
      await assertNoFdLeak(t, before);
    },
  );
}

test.serial('the peer of a sent socket sees EOF only when every copy is closed', async (t) => {
  // Twisted's technique for descriptor passing: a socket's peer sees EOF once the last copy is closed,
  // so EOF on it tells exactly when the receiver's copy went away.
  const before = openFdCount();
  const [a, b] = await readyPair();
  const [sent, peer] = fdBackend.socketPair('stream');
  const taken = new Promise((resolve) => b.once('message', (message) => resolve(message.takeFd(0))));
  await within(a.send('take this', [sent]), 'the send');
  closeFd(sent);
  const copy = watchSocket(await within(taken, 'the message'));
  const watched = watchSocket(peer);
  // The received copy is the same socket: bytes go both ways, and no EOF although ours is closed.
  watched.socket.write('ping');
  await until(() => copy.data === 'ping', 'the bytes on the received copy');
  copy.socket.write('pong');
  await until(() => watched.data === 'pong', 'the answer from the received copy');
  t.false(watched.ended, 'EOF while a copy was still open');
  copy.socket.destroy();
  await until(() => watched.ended, 'EOF once the last copy is closed');
  t.pass();
  watched.socket.destroy();
  await within(Promise.all([a.close(), b.close()]), 'both closes');
  await assertNoFdLeak(t, before);
});

test.serial("backpressure: writableNeedDrain while a peer does not read, one 'drain' once it does", async (t) => {
  const before = openFdCount();
  const highWaterMark = 256 * 1024;
  const { channel, peerFd } = channelWithSilentPeer({ highWaterMark });
  const drains = [];
  channel.on('drain', () => drains.push(channel.queuedBytes));
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const sends = [];
  // Send until the queue stays above the mark after a turn of the loop: the kernel buffer is full.
  for (let i = 0; ; i++) {
    if (i === 2000) throw new Error('the queue never stayed above the high-water mark');
    sends.push(outcome(channel.send(chunk)));
    await turn();
    if (channel.writableNeedDrain) break;
  }
  const drainsBefore = drains.length;
  t.true(channel.queuedBytes >= highWaterMark);
  for (let i = 0; i < 5; i++) await turn();
  t.is(drains.length, drainsBefore, "'drain' although the peer reads nothing");
  t.true(channel.writableNeedDrain);
  // Now the peer reads.
  const drained = once(channel, 'drain', "'drain'");
  const peer = channelFromFd(peerFd);
  let received = 0;
  peer.on('message', () => received++);
  await drained;
  t.false(channel.writableNeedDrain);
  t.deepEqual(await within(Promise.all(sends), 'every send'), Array(sends.length).fill('sent'));
  t.is(drains.length, drainsBefore + 1);
  await until(() => received === sends.length, 'every message at the peer');
  await within(Promise.all([channel.close(), peer.close()]), 'both closes');
  await assertNoFdLeak(t, before);
});

test.serial('a send past maxQueuedBytes rejects with ERR_PORTUNUS_QUEUE_FULL; the channel stays open', async (t) => {
  const before = openFdCount();
  const maxQueuedBytes = 1024 * 1024;
  const { channel, peerFd } = channelWithSilentPeer({ maxQueuedBytes, highWaterMark: 64 * 1024 });
  const chunk = Buffer.alloc(64 * 1024, 0x62);
  const accepted = [];
  let refused;
  for (let i = 0; refused === undefined; i++) {
    if (i === 2000) throw new Error('no send was refused');
    const result = outcome(channel.send(chunk));
    await turn();
    // A refusal settles on the next tick, before the turn ends; an accepted frame is pending or sent.
    const settled = await Promise.race([result, Promise.resolve('pending')]);
    if (settled instanceof Error) refused = settled;
    else accepted.push(result);
  }
  t.is(refused.code, 'ERR_PORTUNUS_QUEUE_FULL');
  t.true(channel.queuedBytes <= maxQueuedBytes);
  t.false(channel.isClosed);
  // What was accepted still arrives once the peer reads.
  const peer = channelFromFd(peerFd);
  let received = 0;
  peer.on('message', () => received++);
  t.deepEqual(await within(Promise.all(accepted), 'the accepted sends'), Array(accepted.length).fill('sent'));
  await until(() => received === accepted.length, 'every accepted message at the peer');
  await within(Promise.all([channel.close(), peer.close()]), 'both closes');
  await assertNoFdLeak(t, before);
});

test.serial(
  'the peer killed with SIGKILL in the middle of a stream of large frames: close, no crash, no leak',
  async (t) => {
    const before = openFdCount();
    const child = spawnFixture(t, 'echo-messages');
    const { channel } = child;
    await within(channel.ready, "the child's hello");
    const frame = Buffer.alloc(1024 * 1024, 0xff);
    const sends = [];
    const pump = (async () => {
      while (!channel.isClosed) {
        if (channel.writableNeedDrain) {
          await Promise.race([new Promise((resolve) => channel.once('drain', resolve)), channel.closed]);
          continue;
        }
        sends.push(outcome(channel.send(frame)));
      }
    })();
    // The child is receiving (it echoes) when it dies.
    await child.reports.take('raw');
    child.child.kill('SIGKILL');
    const error = await within(channel.closed, 'the channel to close');
    // A clean close, or the error of whatever noticed first: the write (EPIPE), the read (ECONNRESET), or
    // the end of stream in the middle of an echo.
    t.true(
      error === undefined || ['EPIPE', 'ECONNRESET', 'ERR_PORTUNUS_BAD_FRAME'].includes(error.code),
      `closed with ${error}`,
    );
    await within(pump, 'the sender to stop');
    for (const result of await within(Promise.all(sends), 'every send to settle')) {
      if (result !== 'sent') t.is(result.code, 'ERR_PORTUNUS_CHANNEL_CLOSED');
    }
    t.deepEqual(await within(child.exited, 'the child to exit'), { code: null, signal: 'SIGKILL' });
    await assertNoFdLeak(t, before);
  },
);

test.serial('ping() measures a round trip to the child', async (t) => {
  const before = openFdCount();
  const { channel } = spawnFixture(t, 'echo-messages');
  await within(channel.ready, "the child's hello");
  const times = await within(Promise.all([channel.ping(), channel.ping(), channel.ping()]), 'three pongs');
  for (const ms of times) t.true(Number.isFinite(ms) && ms >= 0, `round trip ${ms}`);
  await within(channel.close(), 'the close');
  await assertNoFdLeak(t, before);
});

test.serial('ping() to a peer that says hello and never answers rejects with ERR_PORTUNUS_PING_TIMEOUT', async (t) => {
  const before = openFdCount();
  const { channel, peerFd } = channelWithSilentPeer();
  const raw = new net.Socket({ fd: peerFd, readable: true, writable: true });
  const chunks = [];
  raw.on('data', (chunk) => chunks.push(chunk));
  raw.on('error', () => {});
  raw.write(helloFrame());
  await within(channel.ready, 'the raw hello');
  const error = await outcome(channel.ping(300));
  t.is(error.code, 'ERR_PORTUNUS_PING_TIMEOUT');
  t.false(channel.isClosed, 'a ping timeout closed the channel');
  // The ping did go out: frame type 0x03 after our hello.
  const bytes = Buffer.concat(chunks);
  const helloLength = 16 + bytes.readUInt32BE(8);
  t.is(bytes[helloLength + 3], 0x03);
  channel.destroy();
  raw.destroy();
  await assertNoFdLeak(t, before);
});

const canSeeProcessState = fs.existsSync('/proc/self/stat');

(canSeeProcessState ? test.serial : test.skip)(
  'ping() to a stopped child times out, and works again once it continues',
  async (t) => {
    const before = openFdCount();
    const { channel, child } = spawnFixture(t, 'echo-messages');
    await within(channel.ready, "the child's hello");
    await within(channel.ping(), 'a first pong');
    child.kill('SIGSTOP');
    t.teardown(() => child.kill('SIGCONT'));
    // The field after the parenthesised command name is the state: T once the stop has taken effect.
    await until(() => /\) T /.test(fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8')), 'the child to stop');
    t.is((await outcome(channel.ping(300))).code, 'ERR_PORTUNUS_PING_TIMEOUT');
    child.kill('SIGCONT');
    // The late pong of the timed-out ping is ignored; a new ping is answered.
    const ms = await within(channel.ping(), 'a pong after SIGCONT');
    t.true(ms >= 0);
    await within(channel.close(), 'the close');
    await assertNoFdLeak(t, before);
  },
);
