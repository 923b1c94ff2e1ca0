// The router's readers: a ClientHello as Node's TLS client writes it gives its server name and ALPN list,
// also when split over several records and while it is still arriving; malformed ones are
// ERR_PORTUNUS_BAD_REQUEST. HTTP/1 request heads give method, path and host by the rules routing relies on.
import test from 'ava';
import net from 'node:net';
import tls from 'node:tls';
import { readClientHello } from '../../../dist/mux/tls-client-hello.js';
import { readRequestHead } from '../../../dist/mux/http-request-head.js';
import { within } from '../../helpers/within.js';

/** The first bytes a real TLS client sends to a server that never answers. */
async function realHello(options) {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const received = new Promise((resolve) =>
    server.once('connection', (socket) => socket.once('data', (d) => resolve([socket, d]))),
  );
  const client = tls.connect({ port: server.address().port, host: '127.0.0.1', ...options });
  client.on('error', () => {});
  const [socket, bytes] = await within(received, 'the ClientHello');
  socket.destroy();
  client.destroy();
  server.close();
  return bytes;
}

/** The same handshake re-framed into records of at most `size` bytes. */
function reframe(hello, size) {
  const handshake = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const records = [];
  for (let offset = 0; offset < handshake.length; offset += size) {
    const piece = handshake.subarray(offset, offset + size);
    const header = Buffer.from([22, 3, 1, 0, 0]);
    header.writeUInt16BE(piece.length, 3);
    records.push(header, piece);
  }
  return Buffer.concat(records);
}

test('a real ClientHello gives its server name and ALPN, whole, re-framed or arriving', async (t) => {
  const hello = await realHello({ servername: 'Api.Example.TEST', ALPNProtocols: ['h2', 'http/1.1'] });
  const expected = { serverName: 'api.example.test', alpn: ['h2', 'http/1.1'] };
  t.deepEqual(readClientHello(hello), expected);
  const split = reframe(hello, 50);
  t.deepEqual(readClientHello(split), expected, 'over several records');
  for (const bytes of [hello, split])
    for (let n = 0; n < bytes.length; n++) t.is(readClientHello(bytes.subarray(0, n)), undefined);
  t.deepEqual(readClientHello(await realHello({})), { serverName: undefined, alpn: [] }, 'no SNI for an IP');
});

test('malformed ClientHellos are errors', async (t) => {
  const hello = await realHello({ servername: 'a.test' });
  const broken = [];
  const wrongType = Buffer.from(hello);
  wrongType[5] = 2; // a ServerHello
  broken.push(wrongType);
  const cut = Buffer.from(hello);
  cut.writeUInt16BE(cut.readUInt16BE(3) - 10, 3); // the record ends before the message does, then an alien record
  broken.push(Buffer.concat([cut.subarray(0, cut.readUInt16BE(3) + 5), Buffer.from([23, 3, 3, 0, 1, 0])]));
  const badLength = Buffer.from(hello);
  badLength.writeUInt16BE(0xffff, 3);
  broken.push(badLength);
  const longSession = Buffer.from(hello);
  longSession[5 + 4 + 34] = 33; // legacy_session_id longer than 32 bytes
  broken.push(longSession);
  for (const bytes of broken) t.throws(() => readClientHello(bytes), { code: 'ERR_PORTUNUS_BAD_REQUEST' });
  // A length that runs past the vector holding it, though not past the message: the name is read within its
  // own extension only, never into the extension after it.
  const overlong = Buffer.from(hello);
  const name = serverNameOffset(overlong);
  overlong.writeUInt16BE(overlong.readUInt16BE(name) + 4, name);
  t.throws(() => readClientHello(overlong), {
    code: 'ERR_PORTUNUS_BAD_REQUEST',
    message: /server name list cut short/,
  });
});

/** Where the host_name entry's length field is in a one-record ClientHello that has a server_name extension. */
function serverNameOffset(hello) {
  let at = 5 + 4 + 2 + 32; // record header, handshake header, legacy_version, random
  at += 1 + hello[at]; // session id
  at += 2 + hello.readUInt16BE(at); // cipher suites
  at += 1 + hello[at]; // compression methods
  const end = at + 2 + hello.readUInt16BE(at);
  for (at += 2; at < end; at += 4 + hello.readUInt16BE(at + 2)) if (hello.readUInt16BE(at) === 0) return at + 4 + 2 + 1; // extension header, list length, name type
  throw new Error('no server_name extension');
}

test('request heads: host from Host or an absolute target, path without query, malformed ones refused', (t) => {
  const head = (text) => readRequestHead(Buffer.from(text, 'latin1'));
  t.like(head('GET /api/x?y=1 HTTP/1.1\r\nHost: Shop.Example:8080\r\n\r\nbody'), {
    method: 'GET',
    path: '/api/x',
    host: 'shop.example',
    length: 52,
  });
  t.like(head('GET http://other.example/p HTTP/1.1\r\nHost: shop.example\r\n\r\n'), {
    host: 'other.example',
    path: '/p',
  });
  t.like(head('OPTIONS * HTTP/1.1\nhost: [::1]:80\n\n'), { path: '/', host: '::1' });
  t.like(head('GET / HTTP/1.0\r\n\r\n'), { host: undefined });
  t.is(head('GET / HTTP/1.1\r\nHost: a'), undefined);
  for (const bad of [
    'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
    'GET / HTTP/2.0\r\n\r\n',
    'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    'GET / HTTP/1.1\r\nno colon\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a b\r\n\r\n',
    '\x00\x01\x02',
    'G\xe9T / HTTP/1.1',
  ])
    t.throws(() => head(bad), { code: 'ERR_PORTUNUS_BAD_REQUEST' }, JSON.stringify(bad));
});
