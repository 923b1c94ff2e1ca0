// connectTcpmux() and listTcpmuxServices() against tcpmux servers that are not portunus's: a few lines of
// net.Server answering as RFC 1078 allows (an explanation after `+` or `-`, the service's bytes right behind
// the `+` line) or as it does not (garbage, silence, a close without an answer).
import test from 'ava';
import net from 'node:net';
import { connectTcpmux, listTcpmuxServices } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { readBytes } from '../../helpers/tcpmux.js';
import { within } from '../../helpers/within.js';

/** A server that reads one line, records it, and answers `answer(line)` (then closes unless told to stay). */
async function fakeServer(t, answer, { close = true } = {}) {
  const lines = [];
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk;
      const end = received.indexOf('\n');
      if (end < 0) return;
      lines.push(received.slice(0, end + 1));
      const text = answer(received.slice(0, end + 1));
      if (text === undefined) return;
      if (close) socket.end(text);
      else socket.write(text);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const stop = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  t.teardown(stop);
  return { port: server.address().port, lines, stop };
}

test.serial('+ with an explanation: the socket is returned and the bytes behind the line are kept', async (t) => {
  const before = openFdCount();
  const { port, lines, stop } = await fakeServer(t, () => '+Go ahead\r\nGREETING\n', { close: false });
  const socket = await within(connectTcpmux('Finger', { port }), 'the +');
  t.is(await readBytes(socket, 9), 'GREETING\n', 'bytes sent in the same segment as the + line reach the caller');
  t.deepEqual(lines, ['finger\r\n'], 'the name is sent in lower case, CRLF-terminated');
  socket.destroy();
  await stop();
  await assertNoFdLeak(t, before);
});

test.serial('- with and without a reason: ERR_PORTUNUS_SERVICE_REFUSED with the reply', async (t) => {
  const before = openFdCount();
  let next = '-No such service, sorry\r\n';
  const { port, stop } = await fakeServer(t, () => next);
  const error = await t.throwsAsync(connectTcpmux('x', { port }), { code: 'ERR_PORTUNUS_SERVICE_REFUSED' });
  t.is(error.reply, 'No such service, sorry');
  next = '-\n';
  const bare = await t.throwsAsync(connectTcpmux('x', { port }), { code: 'ERR_PORTUNUS_SERVICE_REFUSED' });
  t.is(bare.reply, '');
  await stop();
  await assertNoFdLeak(t, before);
});

test.serial('garbage, a close without an answer, and silence are errors, not hangs', async (t) => {
  const before = openFdCount();
  const garbage = await fakeServer(t, () => 'HTTP/1.1 400 Bad Request\r\n\r\n');
  await t.throwsAsync(connectTcpmux('x', { port: garbage.port }), { code: 'ERR_PORTUNUS_BAD_REPLY' });
  const closing = await fakeServer(t, () => '');
  await t.throwsAsync(connectTcpmux('x', { port: closing.port }), { code: 'ERR_PORTUNUS_BAD_REPLY' });
  const endless = await fakeServer(t, () => 'x'.repeat(4096), { close: false });
  await t.throwsAsync(connectTcpmux('x', { port: endless.port }), { code: 'ERR_PORTUNUS_BAD_REPLY' });
  const silent = await fakeServer(t, () => undefined);
  await t.throwsAsync(connectTcpmux('x', { port: silent.port, timeoutMs: 200 }), {
    code: 'ERR_PORTUNUS_REPLY_TIMEOUT',
  });
  for (const server of [garbage, closing, endless, silent]) await server.stop();
  await assertNoFdLeak(t, before);
});

test.serial('listTcpmuxServices(): the lines until close; a - is ERR_PORTUNUS_SERVICE_REFUSED', async (t) => {
  const before = openFdCount();
  const listing = await fakeServer(t, () => 'finger\r\nsmtp\nsupdup\r\n');
  t.deepEqual(await listTcpmuxServices({ port: listing.port }), ['finger', 'smtp', 'supdup']);
  t.deepEqual(listing.lines, ['help\r\n']);
  const refusing = await fakeServer(t, () => '-HELP not offered\r\n');
  await t.throwsAsync(listTcpmuxServices({ port: refusing.port }), { code: 'ERR_PORTUNUS_SERVICE_REFUSED' });
  for (const server of [listing, refusing]) await server.stop();
  await assertNoFdLeak(t, before);
});
