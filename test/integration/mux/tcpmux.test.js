// TCPMUX (RFC 1078) across real processes: registrants in their own processes, a tcpmux server and its
// registry in this one, clients over real TCP sockets. Two services on one port, the bytes a client sends
// after the name line, HELP, `-` for unknown names, several registrants of one name, and registrants that
// die with a connection in flight.
import test from 'ava';
import { connectTcpmux, listTcpmuxServices } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import {
  python,
  rawExchange,
  readBytes,
  startMux,
  startPythonRegistrant,
  startRegistrant,
  stopRegistrant,
} from '../../helpers/tcpmux.js';
import { once, until, within } from '../../helpers/within.js';

// On CI a missing Python is a failure, not a skip.
const pythonTest = python !== undefined || process.env.CI === 'true' ? test.serial : test.skip;

test.serial('two services on one port: each client reaches its own, names are case-insensitive', async (t) => {
  const before = openFdCount();
  const { port, registryPath, close } = await startMux(t);
  const alpha = await startRegistrant(t, registryPath, 'Alpha', 'A');
  const beta = await startRegistrant(t, registryPath, 'beta', 'B');

  const a = await within(connectTcpmux('ALPHA', { port }), 'the + from alpha');
  t.is(await readBytes(a, 2), 'A\n', "alpha's own first bytes come after the + line");
  a.write('ping');
  t.is(await readBytes(a, 4), 'ping');
  a.destroy();

  const b = await within(connectTcpmux('beta', { port }), 'the + from beta');
  t.is(await readBytes(b, 2), 'B\n');
  b.destroy();

  t.deepEqual(await within(listTcpmuxServices({ port }), 'the HELP list'), ['alpha', 'beta']);
  await stopRegistrant(alpha);
  await stopRegistrant(beta);
  await close();
  await assertNoFdLeak(t, before);
});

test.serial('the bytes a client sends after the name line reach the service; a bare LF ends the line', async (t) => {
  const before = openFdCount();
  const { port, registryPath, close } = await startMux(t);
  const peer = await startRegistrant(t, registryPath, 'echo', 'E');
  const socket = (await import('node:net')).default.connect({ host: '127.0.0.1', port });
  // Name and payload in one write, so the server reads past the line: those bytes must not be lost.
  socket.write('Echo\nfirst-bytes');
  t.is(await readBytes(socket, 3 + 2 + 11), '+\r\nE\nfirst-bytes', '+ line, then the service, then the echo');
  socket.destroy();
  await stopRegistrant(peer);
  await close();
  await assertNoFdLeak(t, before);
});

test.serial('HELP lists the registered names one per line and closes; an unknown name gets -', async (t) => {
  const before = openFdCount();
  const { port, registryPath, close, mux } = await startMux(t);
  const peers = [
    await startRegistrant(t, registryPath, 'one', '1'),
    await startRegistrant(t, registryPath, 'two', '2'),
  ];
  t.is(await rawExchange(port, 'HELP\r\n'), 'one\r\ntwo\r\n');
  const refusal = once(mux, 'refuse');
  t.is(await rawExchange(port, 'three\r\n'), '-unknown service\r\n');
  t.is((await refusal).error.code, 'ERR_PORTUNUS_UNKNOWN_SERVICE');
  const error = await t.throwsAsync(connectTcpmux('three', { port }));
  t.is(error.code, 'ERR_PORTUNUS_SERVICE_REFUSED');
  t.is(error.reply, 'unknown service');
  for (const peer of peers) await stopRegistrant(peer);
  await close();
  await assertNoFdLeak(t, before);
});

test.serial('registrants of one name share its connections; one that is killed is removed', async (t) => {
  const before = openFdCount();
  const { port, registryPath, registry, close } = await startMux(t);
  const first = await startRegistrant(t, registryPath, 'echo', 'first');
  const second = await startRegistrant(t, registryPath, 'echo', 'second');
  const served = async () => {
    const socket = await within(connectTcpmux('echo', { port }), 'a + for echo');
    const line = await readBytes(socket, 'first\n'.length, 'the tag');
    socket.destroy();
    return line.startsWith('first') ? 'first' : 'second';
  };
  const tags = [];
  for (let index = 0; index < 6; index++) tags.push(await served());
  t.true(tags.includes('first') && tags.includes('second'), `both served: ${tags}`);

  const gone = once(registry, 'unregister');
  await stopRegistrant(first);
  await gone;
  const after = [];
  for (let index = 0; index < 4; index++) after.push(await served());
  t.deepEqual(after, ['second', 'second', 'second', 'second']);

  await stopRegistrant(second);
  await until(() => registry.names().length === 0, 'the last registrant to be removed');
  const error = await t.throwsAsync(connectTcpmux('echo', { port }));
  t.is(error.code, 'ERR_PORTUNUS_SERVICE_REFUSED');
  t.deepEqual(await listTcpmuxServices({ port }), []);
  await close();
  await assertNoFdLeak(t, before);
});

pythonTest('a registrant that dies before acknowledging: the connection goes to another one', async (t) => {
  const before = openFdCount();
  const { port, registryPath, mux, close } = await startMux(t);
  // Registered first, so it is first in turn.
  const dying = await startPythonRegistrant(t, registryPath, 'svc', 'exit');
  const live = await startRegistrant(t, registryPath, 'svc', 'live');
  const retry = once(mux, 'retry');
  const socket = await within(connectTcpmux('svc', { port }), 'the + from the live registrant');
  t.is(await readBytes(socket, 5), 'live\n');
  t.is((await retry).error.code, 'ERR_PORTUNUS_CHANNEL_CLOSED');
  await dying.event('transport');
  socket.destroy();
  await dying.exited();
  await stopRegistrant(live);
  await close();
  await assertNoFdLeak(t, before);
});

pythonTest('a lone registrant that dies before acknowledging: the client reads -, never +', async (t) => {
  const before = openFdCount();
  const { port, registryPath, close } = await startMux(t);
  const dying = await startPythonRegistrant(t, registryPath, 'svc', 'exit');
  t.is(await rawExchange(port, 'svc\r\n'), '-service unavailable, try again later\r\n');
  await dying.exited();
  await close();
  await assertNoFdLeak(t, before);
});

pythonTest(
  'a registrant that holds a connection past ackTimeoutMs loses its registration; that client gets -',
  async (t) => {
    const before = openFdCount();
    const { port, registryPath, registry, close } = await startMux(t, { ackTimeoutMs: 300 });
    const stuck = await startPythonRegistrant(t, registryPath, 'svc', 'hold');
    const live = await startRegistrant(t, registryPath, 'svc', 'live');
    const gone = once(registry, 'unregister');
    // The stuck registrant may still hold its copy: the connection is refused, not handed to a second process.
    t.is(await rawExchange(port, 'svc\r\n'), '-service unavailable, try again later\r\n');
    t.is((await gone).id, 1, 'the stuck registrant was removed');
    await stuck.event('closed');
    const socket = await within(connectTcpmux('svc', { port }), 'the + from the live registrant');
    t.is(await readBytes(socket, 5), 'live\n');
    socket.destroy();
    await stuck.exited();
    await stopRegistrant(live);
    await close();
    await assertNoFdLeak(t, before);
  },
);
