// PROXY protocol in front of TCPMUX (acceptProxyProtocol): the header is consumed before the name line and
// the registrant's service finds the real client with proxyHeaderOf(socket). Headers written by hand (v1 and
// v2) and by HAProxy (Debian's package: send-proxy, send-proxy-v2); connections without a valid header are
// closed unanswered and counted.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { connectTcpmux } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { startHaproxy } from '../../helpers/haproxy.js';
import { rawExchange, readBytes, startMux, startRegistrant, stopRegistrant } from '../../helpers/tcpmux.js';
import { until, within } from '../../helpers/within.js';

const hasHaproxy = spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0;
// On CI a missing HAProxy is a failure, not a skip.
const haproxyTest = hasHaproxy || process.env.CI === 'true' ? test.serial : test.skip;

/** A v2 PROXY header for TCP over IPv4, built from the specification's layout. */
function proxyV2(source, sourcePort, destination, destinationPort) {
  const header = Buffer.alloc(16 + 12);
  Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]).copy(header, 0);
  header[12] = 0x21; // version 2, PROXY
  header[13] = 0x11; // AF_INET, STREAM
  header.writeUInt16BE(12, 14);
  Buffer.from(source.split('.').map(Number)).copy(header, 16);
  Buffer.from(destination.split('.').map(Number)).copy(header, 20);
  header.writeUInt16BE(sourcePort, 24);
  header.writeUInt16BE(destinationPort, 26);
  return header;
}

async function proxied(t) {
  const before = openFdCount();
  const mux = await startMux(t, { acceptProxyProtocol: true, nameTimeoutMs: 1000 });
  const peer = await startRegistrant(t, mux.registryPath, 'echo', 'E');
  const finish = async () => {
    await stopRegistrant(peer);
    await mux.close();
    await assertNoFdLeak(t, before);
  };
  return { ...mux, finish };
}

/** Sends `bytes` in one write and reads `count` bytes back. */
async function exchange(port, bytes, count) {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.write(bytes);
  const received = await readBytes(socket, count);
  socket.destroy();
  return received;
}

test.serial('a v1 or v2 header in front of the name line: the service sees the real client', async (t) => {
  const { port, finish } = await proxied(t);
  const v1 = Buffer.from('PROXY TCP4 203.0.113.7 192.0.2.1 51234 1\r\necho\r\nafter');
  const expected = '+\r\nE from 203.0.113.7:51234\nafter';
  t.is(await exchange(port, v1, expected.length), expected);
  const v2 = Buffer.concat([proxyV2('198.51.100.9', 40000, '192.0.2.1', 1), Buffer.from('ECHO\nafter')]);
  const expected2 = '+\r\nE from 198.51.100.9:40000\nafter';
  t.is(await exchange(port, v2, expected2.length), expected2);
  await finish();
});

test.serial('no header, a malformed one, or one that never ends: closed unanswered and counted', async (t) => {
  const { port, mux, finish } = await proxied(t);
  // A plain tcpmux client: it did not come through the proxy.
  t.is(await rawExchange(port, 'echo\r\n'), '');
  t.is(await rawExchange(port, 'PROXY TCP4 not-an-address 192.0.2.1 1 1\r\necho\r\n'), '');
  t.is(await rawExchange(port, 'PROXY TCP4 203.0.113.7', { what: 'a header that never ends to be closed' }), '');
  await until(() => mux.stats().proxyProtocolErrors === 3, 'three PROXY protocol errors counted');
  t.is(mux.stats().handedOff, 0);
  await finish();
});

haproxyTest('HAProxy send-proxy and send-proxy-v2 in front: the service sees the client HAProxy saw', async (t) => {
  const { port, finish } = await proxied(t);
  const haproxy = await startHaproxy(t, port, ['send-proxy', 'send-proxy-v2']);
  for (const frontend of haproxy.ports) {
    const socket = await within(connectTcpmux('echo', { port: frontend }), 'the + through HAProxy');
    const expected = `E from 127.0.0.1:${socket.localPort}\n`;
    t.is(await readBytes(socket, expected.length), expected);
    socket.destroy();
  }
  await haproxy.stop();
  await finish();
});
