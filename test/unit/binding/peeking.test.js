// The unix backend's peeking (src/binding/backend.ts PeekSupport; native/unix/peek.h, readable-watcher.h) on a
// real loopback TCP connection whose accepting side Node never reads (pauseOnConnect): peek leaves the bytes
// queued, discard takes exactly what it is asked, addresses() names both ends, a watcher with SO_RCVLOWAT set
// past what was seen wakes for more bytes or for the client's FIN, not for the bytes already there.
import test from 'ava';
import net from 'node:net';
import { constants } from 'node:os';
import { fdBackend } from '../../../dist/binding/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { within } from '../../helpers/within.js';

const { EAGAIN } = constants.errno;
const peeking = fdBackend.peeking;
const unixTest = peeking === undefined ? test.serial.skip : test.serial;

/** A connected client and the accepted side's descriptor, which Node holds but does not read. */
async function connection(t) {
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise((resolve) => server.once('connection', resolve));
  const client = net.connect(server.address().port, '127.0.0.1');
  client.setNoDelay(true);
  client.on('error', () => {});
  const socket = await within(accepted, 'the connection');
  t.teardown(() => {
    client.destroy();
    socket.destroy();
    server.close();
  });
  const close = async () => {
    client.destroy();
    socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  return { client, fd: socket._handle.fd, close };
}

/** Peeks until `length` bytes are queued (the client's write may not have arrived yet). */
async function peekUntil(fd, length) {
  for (;;) {
    const bytes = peeking.peek(fd, 64);
    if (typeof bytes !== 'number' && bytes.length >= length) return bytes;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

unixTest('peek() leaves the bytes queued, discard() takes exactly as many as asked, EOF peeks empty', async (t) => {
  const before = openFdCount();
  const { client, fd, close } = await connection(t);
  t.is(peeking.peek(fd, 16), -EAGAIN, 'nothing queued yet');
  // addresses(): both ends, as describeSocket() has them, the peer being the client.
  const described = fdBackend.describeSocket(fd);
  t.deepEqual(peeking.addresses(fd), [
    described.localAddress,
    described.localPort,
    client.localAddress,
    client.localPort,
  ]);
  t.is(described.remotePort, client.localPort);
  client.write('PROXY header|the rest');
  const first = await within(peekUntil(fd, 21), 'the bytes to arrive');
  t.is(first.toString(), 'PROXY header|the rest');
  t.is(peeking.peek(fd, 5).toString(), 'PROXY', 'at most maxBytes, and still from the start');
  t.is(peeking.discard(fd, 13), 13);
  t.is(peeking.peek(fd, 64).toString(), 'the rest', 'the rest stays queued');
  t.is(first.toString(), 'PROXY header|the rest', "a peek's bytes are its own: later peeks do not overwrite them");
  t.is(peeking.discard(fd, 64), 8, 'discard stops at what is queued');
  t.is(peeking.discard(fd, 1), -EAGAIN);
  client.end();
  const ended = await within(
    (async () => {
      for (;;) {
        const bytes = peeking.peek(fd, 16);
        if (typeof bytes !== 'number') return bytes;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })(),
    'the end of stream',
  );
  t.is(ended.length, 0, 'an empty Buffer at end of stream');
  t.throws(() => peeking.peek(fd, 0), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => peeking.peek(fd, (1 << 20) + 1), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => peeking.discard(fd, -1), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => peeking.setReceiveLowWater(fd, 0), { code: 'ERR_INVALID_ARG_TYPE' });
  await close();
  await assertNoFdLeak(t, before);
});

unixTest('a watcher with SO_RCVLOWAT past the bytes seen wakes for more bytes, and for a FIN below it', async (t) => {
  const before = openFdCount();
  const { client, fd, close } = await connection(t);
  client.write('abc');
  await within(peekUntil(fd, 3), 'the first bytes');
  t.is(peeking.setReceiveLowWater(fd, 4), 0);
  const wakes = [];
  let woken;
  const watcher = peeking.watchReadable(fd, (status, ended) => {
    const bytes = peeking.peek(fd, 64);
    wakes.push({ status, ended, queued: typeof bytes === 'number' ? bytes : bytes.length });
    woken?.();
  });
  const nextWake = () => within(new Promise((resolve) => (woken = resolve)), 'the watcher to wake');
  watcher.start();
  // Level-triggered: without SO_RCVLOWAT it would wake at once for the three bytes already queued.
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.deepEqual(wakes, [], 'no wake-up for the bytes already seen');
  client.write('d');
  await nextWake();
  t.like(wakes[0], { status: 0, queued: 4 });
  t.is(peeking.setReceiveLowWater(fd, 5), 0);
  wakes.length = 0;
  client.end();
  await nextWake();
  t.like(wakes[0], { status: 0, ended: true, queued: 4 }, 'the FIN wakes it below the low-water mark');
  watcher.close();
  t.is(peeking.setReceiveLowWater(fd, 1), 0);
  await close();
  await assertNoFdLeak(t, before);
});
