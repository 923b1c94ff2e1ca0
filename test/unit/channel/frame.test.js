// The 16-byte frame header (src/channel/frame.ts): layout byte by byte, round trips, and every way a
// header can be malformed.
import test from 'ava';
import {
  DEFAULT_MAX_PAYLOAD,
  FrameType,
  HEADER_SIZE,
  MAX_FDS_PER_FRAME,
  PROTOCOL_VERSION,
  decodeHeader,
  encodeFrame,
} from '../../../dist/channel/frame.js';

const MAX = 1024 * 1024;

/** A valid DATA header with fields overridden at byte level by `patch(bytes)`. */
function header(patch = () => {}) {
  const bytes = encodeFrame(FrameType.DATA, Buffer.alloc(0), 0);
  patch(bytes);
  return bytes;
}

test('the header is 16 bytes and laid out as docs/protocol.md says', (t) => {
  t.is(HEADER_SIZE, 16);
  const frame = encodeFrame(FrameType.DATA, Buffer.from('abc'), 3);
  t.is(frame.length, 16 + 3);
  t.deepEqual([...frame.subarray(0, 16)], [0x50, 0x4e, PROTOCOL_VERSION, 0x02, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 0]);
  t.is(frame.subarray(16).toString(), 'abc');
});

test('big-endian fields: descriptor count and payload length', (t) => {
  const frame = encodeFrame(0x10, Buffer.alloc(0x010203), 0x0102);
  t.deepEqual([...frame.subarray(6, 12)], [0x01, 0x02, 0x00, 0x01, 0x02, 0x03]);
});

test('header fields round trip', (t) => {
  for (const type of [FrameType.HELLO, FrameType.DATA, FrameType.PING, FrameType.PONG, FrameType.ERROR, 0x10, 0xff]) {
    for (const fdCount of [0, 1, 253, 254, MAX_FDS_PER_FRAME]) {
      for (const length of [0, 1, 65_536]) {
        const frame = encodeFrame(type, Buffer.alloc(length, 7), fdCount);
        t.deepEqual(decodeHeader(frame, 0, MAX), { type, flags: 0, fdCount, payloadLength: length });
      }
    }
  }
});

test('a header is decoded at any offset of a buffer', (t) => {
  const frames = Buffer.concat([Buffer.from('xyz'), encodeFrame(FrameType.PING, Buffer.alloc(4), 0)]);
  t.deepEqual(decodeHeader(frames, 3, MAX), { type: FrameType.PING, flags: 0, fdCount: 0, payloadLength: 4 });
});

test('a payload of exactly the limit is accepted, one byte more is refused', (t) => {
  const at = header((bytes) => bytes.writeUInt32BE(MAX, 8));
  t.is(decodeHeader(at, 0, MAX).payloadLength, MAX);
  const over = header((bytes) => bytes.writeUInt32BE(MAX + 1, 8));
  t.is(t.throws(() => decodeHeader(over, 0, MAX)).code, 'ERR_PORTUNUS_FRAME_TOO_LARGE');
  const huge = header((bytes) => bytes.writeUInt32BE(0xffffffff, 8));
  t.is(t.throws(() => decodeHeader(huge, 0, DEFAULT_MAX_PAYLOAD)).code, 'ERR_PORTUNUS_FRAME_TOO_LARGE');
});

const MALFORMED = {
  'bad magic (first byte)': [(bytes) => (bytes[0] = 0x51), 'ERR_PORTUNUS_BAD_FRAME'],
  'bad magic (second byte)': [(bytes) => (bytes[1] = 0x00), 'ERR_PORTUNUS_BAD_FRAME'],
  'magic of another protocol (HTTP)': [
    (bytes) => bytes.write('GET / HTTP/1.1\r\n', 0, 'latin1'),
    'ERR_PORTUNUS_BAD_FRAME',
  ],
  'version 0': [(bytes) => (bytes[2] = 0), 'ERR_PORTUNUS_VERSION_MISMATCH'],
  'version 2': [(bytes) => (bytes[2] = 2), 'ERR_PORTUNUS_VERSION_MISMATCH'],
  'flag bit 0': [(bytes) => bytes.writeUInt16BE(0x0001, 4), 'ERR_PORTUNUS_BAD_FRAME'],
  'flag bit 15': [(bytes) => bytes.writeUInt16BE(0x8000, 4), 'ERR_PORTUNUS_BAD_FRAME'],
  'reserved byte 12': [(bytes) => (bytes[12] = 1), 'ERR_PORTUNUS_BAD_FRAME'],
  'reserved byte 15': [(bytes) => (bytes[15] = 0x80), 'ERR_PORTUNUS_BAD_FRAME'],
  'one descriptor too many': [(bytes) => bytes.writeUInt16BE(MAX_FDS_PER_FRAME + 1, 6), 'ERR_PORTUNUS_TOO_MANY_FDS'],
  '65535 descriptors': [(bytes) => bytes.writeUInt16BE(0xffff, 6), 'ERR_PORTUNUS_TOO_MANY_FDS'],
};

for (const [label, [patch, code]] of Object.entries(MALFORMED)) {
  test(`${label} is refused with ${code}`, (t) => {
    t.is(t.throws(() => decodeHeader(header(patch), 0, MAX)).code, code);
  });
}

test('the version is reported in the error', (t) => {
  const error = t.throws(() =>
    decodeHeader(
      header((bytes) => (bytes[2] = 9)),
      0,
      MAX,
    ),
  );
  t.is(error.version, 9);
});
