// The PROXY protocol codec: v1 and v2 headers as HAProxy writes them decode to the client's addresses,
// partial headers ask for more bytes, and anything malformed (no header, a bad field, a header past the
// bound) is an ERR_PORTUNUS_PROXY_PROTOCOL error as soon as it can be told; what portunus encodes decodes back.
import test from 'ava';
import { decodeProxyHeader, encodeProxyHeader, PROXY_HEADER_MAX_BYTES } from '../../../dist/dispatch/proxy-protocol.js';

const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const v2 = (versionCommand, family, body) => {
  const head = Buffer.from([versionCommand, family, 0, 0]);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIGNATURE, head, body]);
};

test('a v1 TCP4 line decodes, and the bytes after it are not part of the header', (t) => {
  const line = 'PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n';
  const decoded = decodeProxyHeader(Buffer.from(`${line}GET / HTTP/1.1\r\n`));
  t.deepEqual(decoded, {
    header: {
      version: 1,
      command: 'proxy',
      family: 'tcp4',
      sourceAddress: '192.0.2.7',
      sourcePort: 56324,
      destinationAddress: '198.51.100.1',
      destinationPort: 443,
    },
    length: line.length,
  });
});

test('v1 TCP6 and UNKNOWN lines decode', (t) => {
  const six = decodeProxyHeader(Buffer.from('PROXY TCP6 2001:db8::1 ::1 1 65535\r\n'));
  t.is(six.header.family, 'tcp6');
  t.is(six.header.sourceAddress, '2001:db8::1');
  t.is(six.header.destinationPort, 65535);
  t.deepEqual(decodeProxyHeader(Buffer.from('PROXY UNKNOWN ff ff\r\nx')).header, {
    version: 1,
    command: 'local',
    family: 'unknown',
  });
});

test('a partial header asks for more bytes, one byte at a time', (t) => {
  for (const whole of [
    Buffer.from('PROXY TCP4 10.0.0.1 10.0.0.2 1000 2000\r\n'),
    encodeProxyHeader(2, {
      sourceAddress: '10.0.0.1',
      sourcePort: 1,
      destinationAddress: '10.0.0.2',
      destinationPort: 2,
    }),
  ]) {
    for (let n = 0; n < whole.length; n++) t.is(decodeProxyHeader(whole.subarray(0, n)), undefined, `${n} bytes`);
    t.is(decodeProxyHeader(whole).length, whole.length);
  }
});

test('v2 TCP4 and TCP6 with TLVs decode; LOCAL and other families carry no client', (t) => {
  const four = Buffer.concat([Buffer.from([203, 0, 113, 9, 127, 0, 0, 1]), Buffer.from([0xdb, 0xc4, 0x01, 0xbb])]);
  const tlv = Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32]); // ALPN "h2", skipped
  const decoded = decodeProxyHeader(Buffer.concat([v2(0x21, 0x11, Buffer.concat([four, tlv])), Buffer.from('rest')]));
  t.is(decoded.length, 16 + 12 + tlv.length);
  t.like(decoded.header, {
    version: 2,
    command: 'proxy',
    family: 'tcp4',
    sourceAddress: '203.0.113.9',
    sourcePort: 56260,
  });
  t.like(decoded.header, { destinationAddress: '127.0.0.1', destinationPort: 443 });
  const six = Buffer.alloc(36);
  six[15] = 1; // ::1
  six.writeUInt16BE(0x2001, 16);
  six.writeUInt16BE(0x0db8, 18);
  six.writeUInt16BE(8080, 32);
  t.like(decodeProxyHeader(v2(0x21, 0x21, six)).header, {
    family: 'tcp6',
    sourceAddress: '::1',
    destinationAddress: '2001:db8::',
    sourcePort: 8080,
  });
  t.deepEqual(decodeProxyHeader(v2(0x20, 0x11, four)).header, { version: 2, command: 'local', family: 'unknown' });
  t.is(decodeProxyHeader(v2(0x21, 0x31, Buffer.alloc(216))).header.family, 'unknown', 'AF_UNIX');
});

test('malformed and missing headers are errors as soon as they can be told', (t) => {
  const bad = [
    'GET / HTTP/1.1\r\n',
    '\x16\x03\x01',
    'PROXY TCP5 1.1.1.1 2.2.2.2 1 2\r\n',
    'PROXY TCP4 1.1.1.1 2.2.2.2 1\r\n',
    'PROXY TCP4 1.1.1.1 ::1 1 2\r\n',
    'PROXY TCP4 1.1.1.1 2.2.2.2 01 2\r\n',
    'PROXY TCP4 1.1.1.1 2.2.2.2 1 65536\r\n',
    'PROXY TCP4 1.1.1.1 2.2.2.2 1 2\n',
    `PROXY ${'x'.repeat(200)}`,
  ].map((text) => Buffer.from(text, 'latin1'));
  bad.push(v2(0x11, 0x11, Buffer.alloc(12)), v2(0x22, 0x11, Buffer.alloc(12)), v2(0x21, 0x11, Buffer.alloc(4)));
  const huge = v2(0x21, 0x11, Buffer.alloc(12));
  huge.writeUInt16BE(PROXY_HEADER_MAX_BYTES, 14);
  bad.push(huge.subarray(0, 16));
  for (const bytes of bad)
    t.throws(
      () => decodeProxyHeader(bytes),
      { code: 'ERR_PORTUNUS_PROXY_PROTOCOL' },
      JSON.stringify(bytes.toString('latin1')),
    );
});

test('what portunus encodes decodes back, v1 and v2, IPv4, IPv6 and IPv4-mapped', (t) => {
  const cases = [
    { sourceAddress: '192.0.2.1', sourcePort: 40000, destinationAddress: '127.0.0.1', destinationPort: 8443 },
    { sourceAddress: '2001:db8::5', sourcePort: 1, destinationAddress: '::1', destinationPort: 2 },
  ];
  for (const version of [1, 2])
    for (const addresses of cases) {
      const decoded = decodeProxyHeader(encodeProxyHeader(version, addresses));
      t.like(decoded.header, { version, command: 'proxy', ...addresses });
    }
  const mapped = {
    sourceAddress: '::ffff:192.0.2.1',
    sourcePort: 5,
    destinationAddress: '127.0.0.1',
    destinationPort: 6,
  };
  t.is(encodeProxyHeader(1, mapped).toString(), 'PROXY TCP4 192.0.2.1 127.0.0.1 5 6\r\n');
  t.is(decodeProxyHeader(encodeProxyHeader(2, mapped)).header.sourceAddress, '192.0.2.1');
  t.is(encodeProxyHeader(1, undefined).toString(), 'PROXY UNKNOWN\r\n');
  t.like(decodeProxyHeader(encodeProxyHeader(2, undefined)).header, { command: 'local' });
});
