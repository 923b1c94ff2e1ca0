// serveRouter() routes to services registered from other processes (the registry's sets are WorkerSets, so a
// route points at one exactly as at a pool): an HTTP Host and a TLS server name each reach their registrant,
// which sees the client's bytes from the first one, and a route to a name nobody registered yet waits for
// its registrant.
import test from 'ava';
import net from 'node:net';
import { serveRouter } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { readBytes, startMux, startRegistrant, stopRegistrant } from '../../helpers/tcpmux.js';
import { within } from '../../helpers/within.js';

test.serial('routes point at registered services by name, over HTTP Host and TLS server name', async (t) => {
  const before = openFdCount();
  const { registry, registryPath, close } = await startMux(t);
  const router = await within(
    serveRouter({
      listen: { host: '127.0.0.1', port: 0 },
      pools: { web: registry.service('web'), secure: registry.service('secure') },
      routes: [
        { host: 'web.test', protocol: 'http', to: 'web' },
        { host: 'secure.test', protocol: 'tls', to: 'secure' },
      ],
    }),
    'the router to start',
  );
  t.teardown(() => router.close({ timeoutMs: 1000 }));
  const { port } = router.address();
  const web = await startRegistrant(t, registryPath, 'web', 'W');

  const exchange = async (bytes, tag) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.write(bytes);
    const received = await readBytes(socket, tag.length + 1 + bytes.length);
    socket.destroy();
    return Buffer.from(received, 'latin1');
  };
  const request = 'GET / HTTP/1.1\r\nHost: web.test\r\n\r\n';
  t.is((await exchange(request, 'W')).toString('latin1'), `W\n${request}`, 'the registrant sees the whole head');

  // No registrant for 'secure' yet: the connection waits for one, then gets it with its ClientHello.
  const hello = clientHello('secure.test');
  const pending = exchange(hello, 'S');
  const secure = await startRegistrant(t, registryPath, 'secure', 'S');
  const echoed = await pending;
  t.is(echoed.subarray(0, 2).toString('latin1'), 'S\n');
  t.true(echoed.subarray(2).equals(hello), 'the ClientHello reached the service byte for byte');
  t.is(router.stats().routing.routed, 2);

  await router.close({ timeoutMs: 1000 });
  for (const peer of [web, secure]) await stopRegistrant(peer);
  await close();
  await assertNoFdLeak(t, before);
});

/** A minimal TLS 1.2-style ClientHello record naming `host` (enough for the router; nobody completes it). */
function clientHello(host) {
  const name = Buffer.from(host, 'latin1');
  const sni = Buffer.concat([u16(name.length + 3), Buffer.from([0]), u16(name.length), name]);
  const extensions = Buffer.concat([u16(0), u16(sni.length), sni]);
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 7),
    Buffer.from([0]),
    u16(2),
    Buffer.from([0x13, 0x01]),
    Buffer.from([1, 0]),
    u16(extensions.length),
    extensions,
  ]);
  const handshake = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([22, 3, 1]), u16(handshake.length), handshake]);
}

function u16(value) {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value);
  return bytes;
}
