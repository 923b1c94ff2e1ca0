// Channel logic (src/channel/channel.ts) in one process, over the fake descriptor backend and the real one:
// the hello exchange and its version check, descriptors and who owns them, ping, refused frame types,
// extend(), backpressure, close() against destroy(), truncated and half-sent frames. What the real backend
// cannot do on demand (a read truncated by MSG_CTRUNC) runs on the fake only. The same behaviours across
// processes are in test/integration/channel/.
import test from 'ava';
import { channelFromFd } from '../../../dist/index.js';
import {
  FD_BACKENDS,
  installFdBackend,
  outcome,
  readyChannels,
  socketsToSend,
  turn,
} from '../../helpers/fd-backends.js';
import { channelWithRawPeer, frame, hello, RawEndpoint } from '../../helpers/raw-endpoint.js';
import { nextMessage, once, within } from '../../helpers/within.js';

const HELLO = 0x01;
const DATA = 0x02;
const PING = 0x03;
const ERROR = 0x05;

/** What a portunus channel in this process says in its hello. */
const channelHello = { protocol: 1, pid: process.pid, capabilities: ['fd-chunking'] };

for (const kind of FD_BACKENDS) {
  test.serial(`hello: each side's ready resolves with the other's hello (${kind})`, async (t) => {
    const kit = installFdBackend(t, kind);
    const start = kit.fdCount();
    const { a, b } = await readyChannels(kit);
    for (const channel of [a, b]) {
      t.deepEqual(channel.peer, channelHello);
      t.is(await channel.ready, channel.peer);
    }
    a.destroy();
    t.is(await within(b.closed, "the peer's close"), undefined, 'a clean end of stream');
    await kit.assertNoFdLeak(t, start);
  });

  test.serial(`a hello of another protocol version: ERR_PORTUNUS_VERSION_MISMATCH (${kind})`, async (t) => {
    const kit = installFdBackend(t, kind);
    const start = kit.fdCount();
    const { channel, raw } = await channelWithRawPeer({ sendHello: false });
    await raw.write(frame(HELLO, JSON.stringify({ protocol: 2, pid: 1, capabilities: [] })));
    const error = await within(channel.closed, 'the channel to close');
    t.is(error?.code, 'ERR_PORTUNUS_VERSION_MISMATCH');
    await t.throwsAsync(channel.ready, { is: error });
    t.deepEqual(
      JSON.parse((await raw.frameOfType(HELLO)).payload),
      channelHello,
      'the channel said hello all the same',
    );
    raw.close();
    await kit.assertNoFdLeak(t, start);
  });

  test.serial(`a peer that never says hello: ERR_PORTUNUS_HANDSHAKE_TIMEOUT (${kind})`, async (t) => {
    const kit = installFdBackend(t, kind);
    const start = kit.fdCount();
    const { channel, raw } = await channelWithRawPeer({ sendHello: false, options: { handshakeTimeoutMs: 20 } });
    t.is((await within(channel.closed, 'the channel to close'))?.code, 'ERR_PORTUNUS_HANDSHAKE_TIMEOUT');
    raw.close();
    await kit.assertNoFdLeak(t, start);
  });

  test.serial(`a message's descriptors: the listener owns those it takes, the rest are closed (${kind})`, async (t) => {
    const kit = installFdBackend(t, kind);
    const start = kit.fdCount();
    const { a, b } = await readyChannels(kit);
    const { sent, closeAll } = socketsToSend(kit, 3);
    const before = kit.fdCount();
    const arrived = nextMessage(b, (message) => ({ count: message.fdCount, fd: message.takeFd(1) }));
    await a.send('three', sent);
    const { message, taken } = await arrived;
    t.is(taken.count, 3);
    t.true(kit.sameFile(taken.fd, sent[1]));
    t.is(kit.fdCount(), before + 1, 'copies nobody took are still open');
    t.deepEqual(message.takeFds(), [], 'something was left to take after the listener returned');
    t.true(
      sent.every((fd) => kit.isOpen(fd)),
      'the sender lost a descriptor it sent',
    );
    kit.backend.close(taken.fd);
    // Nobody listens now: every copy that arrives is closed.
    b.removeAllListeners('message');
    await a.send('unheard', sent);
    await a.ping();
    t.is(kit.fdCount(), before);
    closeAll();
    a.destroy();
    b.destroy();
    await kit.assertNoFdLeak(t, start);
  });

  test.serial(`ping: a round trip; a peer that never answers, ERR_PORTUNUS_PING_TIMEOUT (${kind})`, async (t) => {
    const kit = installFdBackend(t, kind);
    const start = kit.fdCount();
    const { a, b } = await readyChannels(kit);
    t.true((await a.ping()) >= 0);
    a.destroy();
    b.destroy();
    const { channel, raw } = await channelWithRawPeer();
    await within(channel.ready, 'the hello');
    await t.throwsAsync(channel.ping(20), { code: 'ERR_PORTUNUS_PING_TIMEOUT' });
    t.is((await raw.frameOfType(PING)).payload.length, 4);
    t.false(channel.isClosed);
    channel.destroy();
    raw.close();
    await kit.assertNoFdLeak(t, start);
  });

  test.serial(
    `a frame type nobody handles: its descriptors closed, a warning, an ERROR frame back, the channel goes on (${kind})`,
    async (t) => {
      const kit = installFdBackend(t, kind);
      const start = kit.fdCount();
      const { channel, raw } = await channelWithRawPeer();
      await within(channel.ready, 'the hello');
      const { sent, closeAll } = socketsToSend(kit, 2);
      const before = kit.fdCount();
      const warning = once(channel, 'warning');
      await raw.write(frame(0x06, 'for nobody', { fdCount: 2 }), sent);
      t.like(await warning, { code: 'ERR_PORTUNUS_UNKNOWN_FRAME_TYPE', frameType: 0x06 });
      const report = await raw.frameOfType(ERROR);
      t.like(JSON.parse(report.payload.toString()), { code: 'ERR_PORTUNUS_UNKNOWN_FRAME_TYPE', frameType: 0x06 });
      t.is(kit.fdCount(), before, 'the channel kept a descriptor of the refused frame');
      const next = nextMessage(channel);
      await raw.write(frame(DATA, 'still there'));
      t.is((await next).message.text(), 'still there');
      closeAll();
      channel.destroy();
      raw.close();
      await kit.assertNoFdLeak(t, start);
    },
  );

  test.serial(
    `backpressure: writableNeedDrain while the peer does not read, one 'drain' once it does (${kind})`,
    async (t) => {
      const kit = installFdBackend(t, kind);
      const [mine, theirs] = kit.backend.socketPair('stream');
      const channel = channelFromFd(mine, { highWaterMark: 64 * 1024 });
      const raw = new RawEndpoint(theirs, { read: false });
      await raw.write(hello());
      await within(channel.ready, 'the hello');
      let drains = 0;
      channel.on('drain', () => drains++);
      const payload = Buffer.alloc(4 * 1024 * 1024, 7);
      const sent = outcome(channel.send(payload));
      t.true(channel.writableNeedDrain);
      for (let i = 0; i < 5; i++) await turn();
      t.true(channel.writableNeedDrain, 'the queue went down although the peer reads nothing');
      t.is(drains, 0);
      raw.readStart();
      t.is(await within(sent, 'the send'), 'resolved');
      t.is(drains, 1);
      t.false(channel.writableNeedDrain);
      await raw.until((r) => r.frames.some((f) => f.type === DATA && f.payload.length === payload.length), 'the frame');
      channel.destroy();
      raw.close();
    },
  );

  test.serial(`close() writes what is queued, then ends cleanly (${kind})`, async (t) => {
    const kit = installFdBackend(t, kind);
    const start = kit.fdCount();
    const { a, b } = await readyChannels(kit);
    const received = [];
    b.on('message', (message) => received.push(message.text()));
    const sends = ['one', 'two', 'three'].map((text) => outcome(a.send(text)));
    const closing = a.close();
    t.true(a.isClosed);
    t.is((await outcome(a.send('late'))).code, 'ERR_PORTUNUS_CHANNEL_CLOSED');
    await within(closing, 'close()');
    t.deepEqual(await within(Promise.all(sends), 'the sends'), ['resolved', 'resolved', 'resolved']);
    t.is(await within(b.closed, "the peer's close"), undefined);
    t.deepEqual(received, ['one', 'two', 'three']);
    await kit.assertNoFdLeak(t, start);
  });

  test.serial(
    `destroy() ends at once: queued sends and pings reject with ERR_PORTUNUS_CHANNEL_CLOSED (${kind})`,
    async (t) => {
      const kit = installFdBackend(t, kind);
      const start = kit.fdCount();
      const { a, b } = await readyChannels(kit);
      const received = [];
      b.on('message', (message) => received.push(message.text()));
      const pending = [outcome(a.send('one')), outcome(a.send('two')), outcome(a.ping())];
      const events = [];
      a.on('error', (error) => events.push(['error', error]));
      a.on('close', (error) => events.push(['close', error]));
      const cause = new Error('stopped by the test');
      a.destroy(cause);
      t.deepEqual(events, [
        ['error', cause],
        ['close', cause],
      ]);
      t.is(a.queuedBytes, 0);
      for (const result of await within(Promise.all(pending), 'the sends and the ping'))
        t.like(result, { code: 'ERR_PORTUNUS_CHANNEL_CLOSED', cause });
      t.is(await within(b.closed, "the peer's close"), undefined);
      t.deepEqual(received, [], 'frames queued before destroy() reached the peer');
      await kit.assertNoFdLeak(t, start);
    },
  );

  test.serial(
    `a peer that dies in the middle of a frame: ERR_PORTUNUS_BAD_FRAME, the frame's descriptor closed (${kind})`,
    async (t) => {
      const kit = installFdBackend(t, kind);
      const start = kit.fdCount();
      const { channel, raw } = await channelWithRawPeer();
      await within(channel.ready, 'the hello');
      // Read first: a peer that goes with bytes unread resets the connection instead of ending it.
      await raw.frameOfType(HELLO);
      const { sent, closeAll } = socketsToSend(kit, 1);
      await raw.write(frame(DATA, 'never finished', { fdCount: 1 }).subarray(0, 20), sent);
      closeAll();
      raw.close();
      t.is((await within(channel.closed, 'the channel to close'))?.code, 'ERR_PORTUNUS_BAD_FRAME');
      await kit.assertNoFdLeak(t, start);
    },
  );

  test.serial(
    `a peer that leaves without reading: its last message first, then ECONNRESET ends the channel (${kind})`,
    async (t) => {
      const kit = installFdBackend(t, kind);
      const [mine, theirs] = kit.backend.socketPair('stream');
      const channel = channelFromFd(mine);
      const raw = new RawEndpoint(theirs, { read: false });
      const arrived = nextMessage(channel);
      await raw.write(Buffer.concat([hello(), frame(DATA, 'last words')]));
      // The channel's hello is in the raw peer's buffer by now, unread.
      await turn();
      raw.close();
      t.is((await arrived).message.text(), 'last words');
      t.like(await within(channel.closed, 'the channel to close'), { code: 'ECONNRESET', syscall: 'recvmsg' });
    },
  );
}

test.serial('extend(): a frame type or an event already claimed is refused, and nothing is registered', async (t) => {
  const kit = installFdBackend(t, 'fake');
  const { a, b } = await readyChannels(kit);
  const handler = () => {};
  const refused = { code: 'ERR_INVALID_ARG_VALUE' };
  a.handle(0x20, handler);
  // 0x10 to 0x12 are the transport session's, on every channel; 0x05 is the channel's own ERROR.
  for (const type of [0x10, 0x20, 0x05]) {
    t.throws(() => a.extend({ name: 'takeover', frames: { [type]: handler } }), refused, `type 0x${type.toString(16)}`);
  }
  for (const event of ['message', 'close', 'transport']) {
    t.throws(() => a.extend({ name: 'takeover', frames: {}, events: [event] }), refused, event);
  }
  // Checked as a whole: a refused extension leaves its free frame type free.
  t.throws(() => a.extend({ name: 'takeover', frames: { 0x30: handler }, events: ['ready'] }), refused);
  const offers = [];
  const port = a.extend({
    name: 'takeover',
    frames: { 0x30: (message) => offers.push(message.text()) },
    events: ['takeover'],
  });
  t.throws(() => a.handle(0x30, handler), refused);
  t.throws(() => a.extend({ name: 'other', frames: {}, events: ['takeover'] }), refused);
  // The port reaches the channel's listeners; the extension's frames reach its handler.
  const delivered = once(a, 'takeover');
  port.emit('takeover', 'offer-1');
  t.is(await delivered, 'offer-1');
  const warned = once(a, 'warning');
  const warning = new Error('just so');
  port.warn(warning);
  t.is(await warned, warning);
  await b.sendFrame(0x30, 'offer-2');
  await a.ping();
  t.deepEqual(offers, ['offer-2']);
  a.destroy();
  b.destroy();
});

test.serial(
  'fake: a message whose descriptors the kernel dropped (MSG_CTRUNC) is refused with ERR_PORTUNUS_TRUNCATED',
  async (t) => {
    const kit = installFdBackend(t, 'fake');
    const { a, b, fdB } = await readyChannels(kit);
    const { sent, closeAll } = socketsToSend(kit, 2);
    const before = kit.fdCount();
    const messages = [];
    b.on('message', (message) => messages.push(message.text()));
    const local = once(b, 'warning');
    const remote = once(a, 'warning');
    kit.fake.truncateNextRead(fdB);
    await a.send('lost', sent);
    t.like(await local, { code: 'ERR_PORTUNUS_TRUNCATED', frameType: DATA });
    t.like(await remote, { code: 'ERR_PORTUNUS_REMOTE', remoteCode: 'ERR_PORTUNUS_TRUNCATED', frameType: DATA });
    t.deepEqual(messages, []);
    t.is(kit.fdCount(), before);
    // The channel goes on.
    const next = nextMessage(b, (message) => message.takeFds());
    await a.send('whole', sent);
    const { message, taken } = await next;
    t.is(message.text(), 'whole');
    t.is(taken.length, 2);
    taken.forEach((fd) => kit.backend.close(fd));
    closeAll();
    a.destroy();
    b.destroy();
    await kit.assertNoFdLeak(t, 0);
  },
);
