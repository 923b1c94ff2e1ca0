// Clients that try to hurt a tcpmux server: the nanomsg daemon this replaces aborted on a 256-byte name.
// Each ends in a `-` answer or a close within the deadline; meanwhile a well-behaved client is served, the
// server keeps running, and this process's descriptor count comes back to where it was.
import test from 'ava';
import net from 'node:net';
import { connectTcpmux } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { rawExchange, readBytes, startMux, startRegistrant, stopRegistrant } from '../../helpers/tcpmux.js';
import { until, within } from '../../helpers/within.js';

/** Short, so that slow clients hit it quickly; still far above a loaded machine's scheduling delays. */
const NAME_TIMEOUT_MS = 500;

/** A mux with one echo service, and a check that a well-behaved client is served. */
async function hostileSetup(t, options = {}) {
  const before = openFdCount();
  const mux = await startMux(t, { nameTimeoutMs: NAME_TIMEOUT_MS, ...options });
  const peer = await startRegistrant(t, mux.registryPath, 'echo', 'E');
  const served = async () => {
    const socket = await within(connectTcpmux('echo', { port: mux.port }), 'a well-behaved client to get +');
    const line = await readBytes(socket, 2);
    socket.destroy();
    return line;
  };
  const finish = async () => {
    await until(() => mux.mux.stats().held === 0, 'the server to hold no connection');
    await stopRegistrant(peer);
    await mux.close();
    await assertNoFdLeak(t, before);
  };
  return { ...mux, served, finish };
}

test.serial('a 300-byte name, with or without a line end, gets "-service name too long"', async (t) => {
  const { port, served, finish } = await hostileSetup(t);
  t.is(await rawExchange(port, `${'x'.repeat(300)}\r\n`), '-service name too long\r\n');
  t.is(await rawExchange(port, 'y'.repeat(300)), '-service name too long\r\n');
  // 129 bytes: one past the default maxNameLength, line end included in the same read.
  t.is(await rawExchange(port, `${'z'.repeat(129)}\r\n`), '-service name too long\r\n');
  t.is(await served(), 'E\n', 'the server still serves');
  await finish();
});

test.serial('a name with no line end gets "-timed out" once nameTimeoutMs passes', async (t) => {
  const { port, served, finish } = await hostileSetup(t);
  const silent = rawExchange(port, 'echo', { what: 'the answer to a name without a line end' });
  t.is(await served(), 'E\n', 'served meanwhile');
  t.is(await silent, '-timed out waiting for the service name\r\n');
  await finish();
});

test.serial('one byte at a time, slower than the deadline allows, gets "-timed out"', async (t) => {
  const { port, served, finish } = await hostileSetup(t);
  // Every byte resets no timer: the deadline covers the whole line.
  const slow = rawExchange(port, [...'echo-service-name\r\n'], { gapMs: 100, what: 'the answer to a slow client' });
  t.is(await served(), 'E\n', 'served meanwhile');
  t.is(await slow, '-timed out waiting for the service name\r\n');
  await finish();
});

test.serial('names that are not names (control bytes, non-ASCII, empty) get "-not a service name"', async (t) => {
  const { port, finish } = await hostileSetup(t);
  t.is(await rawExchange(port, 'ec\x00ho\r\n'), '-not a service name\r\n');
  t.is(await rawExchange(port, 'écho\r\n'), '-not a service name\r\n');
  t.is(await rawExchange(port, '\r\n'), '-not a service name\r\n');
  t.is(await rawExchange(port, 'two words\r\n'), '-not a service name\r\n');
  await finish();
});

test.serial('2000 connect-and-close clients leave nothing behind, and others are served meanwhile', async (t) => {
  const { port, mux, served, finish } = await hostileSetup(t);
  const hit = () =>
    new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.on('error', resolve);
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
    });
  const flood = (async () => {
    for (let round = 0; round < 20; round++) await Promise.all(Array.from({ length: 100 }, hit));
  })();
  t.is(await served(), 'E\n', 'served during the flood');
  await within(flood, 'the flood to finish', 60_000);
  t.is(await served(), 'E\n', 'served after the flood');
  await until(() => mux.stats().accepted >= 2002, 'the server to accept every connection');
  await finish();
});

test.serial('past maxConnections a client is answered "-too many connections" at once', async (t) => {
  const { port, mux, served, finish } = await hostileSetup(t, { maxConnections: 2, nameTimeoutMs: 10_000 });
  // Two clients that say nothing fill the server.
  const silent = [0, 1].map(() => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    return socket;
  });
  await until(() => mux.stats().held === 2, 'two held connections');
  t.is(await rawExchange(port, 'echo\r\n'), '-too many connections, try again later\r\n');
  for (const socket of silent) socket.destroy();
  await until(() => mux.stats().held === 0, 'the silent clients to be gone');
  t.is(await served(), 'E\n', 'served once there is room');
  await finish();
});

test.serial('a HELP flood is answered and closed, and others are served meanwhile', async (t) => {
  const { port, mux, served, finish } = await hostileSetup(t, { maxConnections: 64 });
  const answers = new Set();
  const flood = (async () => {
    for (let round = 0; round < 10; round++)
      await Promise.all(
        Array.from({ length: 50 }, () => rawExchange(port, 'HELP\r\n').then((answer) => answers.add(answer))),
      );
  })();
  t.is(await served(), 'E\n', 'served during the flood');
  await within(flood, 'the flood to finish', 60_000);
  // Each is either the list or, past maxConnections, a refusal: never a hang.
  for (const answer of answers) t.true(['echo\r\n', '-too many connections, try again later\r\n'].includes(answer));
  t.true(answers.has('echo\r\n'));
  t.is(mux.stats().help + mux.stats().refused, 500);
  await finish();
});

test.serial('clients that never read their answer are closed within the deadline', async (t) => {
  const { port, mux, finish } = await hostileSetup(t);
  // They send garbage and keep their end open without reading: the server answers, then closes on them.
  const sockets = Array.from({ length: 20 }, () => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    socket.write('no-such-service\r\nand more bytes after it');
    socket.pause();
    return socket;
  });
  await until(() => mux.stats().refused >= 20, 'twenty refusals');
  await until(() => mux.stats().held === 0, 'the server to close on clients that keep their end open');
  for (const socket of sockets) socket.destroy();
  await finish();
});
