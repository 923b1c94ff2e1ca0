// FrameDecoder (src/channel/frame-decoder.ts) with fake descriptors: bytes and descriptor arrivals in,
// frames out, strict attribution of descriptors to frames. `marks` follows native/unix/read-marks.h: per
// read that carried control data, [offset, length, count, truncated, fd x count]. Every descriptor the
// decoder gives up on must go through its closeFd callback, which the tests record.
import test from 'ava';
import { FrameType, HEADER_SIZE, encodeFrame } from '../../../dist/channel/frame.js';
import { FrameDecoder } from '../../../dist/channel/frame-decoder.js';

const MAX_PAYLOAD = 1024 * 1024;

function makeDecoder(maxPayload = MAX_PAYLOAD) {
  const closed = [];
  const decoder = new FrameDecoder(maxPayload, (fd) => closed.push(fd));
  return { decoder, closed };
}

/** Marks for reads given as { offset, length, fds, truncated } (offsets relative to the batch). */
function marks(...reads) {
  return Int32Array.from(
    reads.flatMap(({ offset, length, fds = [], truncated = false }) => [
      offset,
      length,
      fds.length,
      truncated ? 1 : 0,
      ...fds,
    ]),
  );
}

/** Fake descriptors 100, 101, ... */
function fds(count, first = 100) {
  return Array.from({ length: count }, (_, i) => first + i);
}

const data = (payload, fdCount = 0) => encodeFrame(FrameType.DATA, Buffer.from(payload), fdCount);
const summary = (frames) =>
  frames.map((frame) => ({ payload: frame.payload.toString(), fds: frame.fds, truncated: frame.truncated }));

test('one frame in one read', (t) => {
  const { decoder, closed } = makeDecoder();
  const frames = decoder.push(data('hello'), undefined);
  t.deepEqual(summary(frames), [{ payload: 'hello', fds: [], truncated: false }]);
  t.is(frames[0].type, FrameType.DATA);
  t.false(decoder.inFrame);
  t.deepEqual(closed, []);
});

test('several frames in one read, in order, with an empty payload among them', (t) => {
  const { decoder } = makeDecoder();
  const frames = decoder.push(Buffer.concat([data('a'), data(''), data('c')]), undefined);
  t.deepEqual(
    summary(frames).map((frame) => frame.payload),
    ['a', '', 'c'],
  );
});

test('a batch without data (end of stream only) yields nothing', (t) => {
  const { decoder } = makeDecoder();
  t.deepEqual(decoder.push(undefined, undefined), []);
  t.false(decoder.inFrame);
});

test('a stream fed byte by byte, descriptors on the first byte of their frame', (t) => {
  const { decoder, closed } = makeDecoder();
  const stream = Buffer.concat([data('first'), data('second', 2), data('')]);
  const withFds = data('first').length;
  const out = [];
  for (let i = 0; i < stream.length; i++) {
    const frames = decoder.push(
      stream.subarray(i, i + 1),
      i === withFds ? marks({ offset: 0, length: 1, fds: [7, 8] }) : undefined,
    );
    for (const frame of frames) out.push({ at: i, ...summary([frame])[0] });
    // Between the first and the last byte of a frame the decoder is in the middle of it.
    const last = out.length > 0 && out[out.length - 1].at === i;
    t.is(decoder.inFrame, !last, `inFrame after byte ${i}`);
  }
  t.deepEqual(out, [
    { at: withFds - 1, payload: 'first', fds: [], truncated: false },
    { at: withFds + HEADER_SIZE + 6 - 1, payload: 'second', fds: [7, 8], truncated: false },
    { at: stream.length - 1, payload: '', fds: [], truncated: false },
  ]);
  t.deepEqual(closed, []);
});

test('descriptors may ride on any header byte, up to the last', (t) => {
  for (let k = 0; k < HEADER_SIZE; k++) {
    const { decoder } = makeDecoder();
    const frame = data('payload', 1);
    const frames = [
      ...decoder.push(frame.subarray(0, k), undefined),
      ...decoder.push(frame.subarray(k), marks({ offset: 0, length: frame.length - k, fds: [5] })),
    ];
    t.deepEqual(
      summary(frames),
      [{ payload: 'payload', fds: [5], truncated: false }],
      `descriptors on header byte ${k}`,
    );
  }
});

test('descriptors that arrive with a payload byte belong to no header: ERR_PORTUNUS_FD_COUNT_MISMATCH', (t) => {
  const { decoder, closed } = makeDecoder();
  const frame = data('payload', 1);
  // Two reads in one batch: the header alone, then the payload with the descriptor.
  const error = t.throws(() =>
    decoder.push(frame, marks({ offset: HEADER_SIZE, length: frame.length - HEADER_SIZE, fds: [5] })),
  );
  t.is(error.code, 'ERR_PORTUNUS_FD_COUNT_MISMATCH');
  t.deepEqual(closed, [5]);
});

test('a complete header whose descriptors have not arrived fails at once, not when they might come', (t) => {
  const { decoder } = makeDecoder();
  const frame = data('payload', 1);
  t.throws(() => decoder.push(frame.subarray(0, HEADER_SIZE), undefined), { code: 'ERR_PORTUNUS_FD_COUNT_MISMATCH' });
});

test('a read that starts with descriptor-less frames: its descriptors go to the frame that announces them', (t) => {
  const { decoder, closed } = makeDecoder();
  const batch = Buffer.concat([data('no fds'), data('none either'), data('two', 2), data('after')]);
  const frames = decoder.push(batch, marks({ offset: 0, length: batch.length - data('after').length, fds: [40, 41] }));
  t.deepEqual(summary(frames), [
    { payload: 'no fds', fds: [], truncated: false },
    { payload: 'none either', fds: [], truncated: false },
    { payload: 'two', fds: [40, 41], truncated: false },
    { payload: 'after', fds: [], truncated: false },
  ]);
  t.deepEqual(closed, []);
});

test('a read that starts in the middle of a descriptor-less frame', (t) => {
  const { decoder } = makeDecoder();
  const before = data('split across reads');
  const carrying = data('carrying', 1);
  t.deepEqual(decoder.push(before.subarray(0, 10), undefined), []);
  const rest = Buffer.concat([before.subarray(10), carrying]);
  const frames = decoder.push(rest, marks({ offset: 0, length: rest.length, fds: [9] }));
  t.deepEqual(summary(frames), [
    { payload: 'split across reads', fds: [], truncated: false },
    { payload: 'carrying', fds: [9], truncated: false },
  ]);
});

test('several reads in one batch, each with its own descriptors', (t) => {
  const { decoder } = makeDecoder();
  const a = data('a', 1);
  const b = data('b', 2);
  const frames = decoder.push(
    Buffer.concat([a, b]),
    marks({ offset: 0, length: a.length, fds: [1] }, { offset: a.length, length: b.length, fds: [2, 3] }),
  );
  t.deepEqual(summary(frames), [
    { payload: 'a', fds: [1], truncated: false },
    { payload: 'b', fds: [2, 3], truncated: false },
  ]);
});

test('a payload split across batches, with its descriptors in the first', (t) => {
  const { decoder } = makeDecoder();
  const payload = 'x'.repeat(1000);
  const frame = data(payload, 1);
  t.deepEqual(decoder.push(frame.subarray(0, 100), marks({ offset: 0, length: 100, fds: [3] })), []);
  t.true(decoder.inFrame);
  t.deepEqual(decoder.push(frame.subarray(100, 600), undefined), []);
  t.deepEqual(summary(decoder.push(frame.subarray(600), undefined)), [{ payload, fds: [3], truncated: false }]);
  t.false(decoder.inFrame);
});

test('more descriptors than one sendmsg carries: one chunk per header byte, reassembled in order', (t) => {
  for (const [count, perChunk] of [
    [300, 253],
    [1024, 253],
    [1024, 252],
  ]) {
    const { decoder, closed } = makeDecoder();
    const frame = data('many', count);
    const all = fds(count);
    const chunks = [];
    for (let sent = 0; sent < count; sent += perChunk) chunks.push(all.slice(sent, sent + perChunk));
    // Every chunk but the last rides on one byte; the last comes with the rest of the frame.
    const reads = chunks.map((chunk, i) => ({
      offset: i,
      length: i < chunks.length - 1 ? 1 : frame.length - i,
      fds: chunk,
    }));
    const frames = decoder.push(frame, marks(...reads));
    t.deepEqual(
      summary(frames),
      [{ payload: 'many', fds: all, truncated: false }],
      `${count} in chunks of ${perChunk}`,
    );
    t.deepEqual(closed, []);
  }
});

test('missing descriptors: ERR_PORTUNUS_FD_COUNT_MISMATCH, and every descriptor of the batch is closed', (t) => {
  const { decoder, closed } = makeDecoder();
  const complete = data('complete', 1);
  const short = data('short', 3);
  const error = t.throws(() =>
    decoder.push(
      Buffer.concat([complete, short]),
      marks(
        { offset: 0, length: complete.length, fds: [10] },
        { offset: complete.length, length: short.length, fds: [11, 12] },
      ),
    ),
  );
  t.is(error.code, 'ERR_PORTUNUS_FD_COUNT_MISMATCH');
  t.is(error.announced, 3);
  t.is(error.received, 2);
  // Including the descriptor of the frame completed earlier in the same batch: it is never handed out.
  t.deepEqual(
    [...closed].sort((a, b) => a - b),
    [10, 11, 12],
  );
});

test('orphan descriptors, on a frame that announces none: ERR_PORTUNUS_FD_COUNT_MISMATCH, closed', (t) => {
  const { decoder, closed } = makeDecoder();
  const frame = data('announces none');
  const error = t.throws(() => decoder.push(frame, marks({ offset: 0, length: frame.length, fds: [20, 21] })));
  t.is(error.code, 'ERR_PORTUNUS_FD_COUNT_MISMATCH');
  t.deepEqual(closed, [20, 21]);
});

test('more descriptors than the frame announces: ERR_PORTUNUS_FD_COUNT_MISMATCH, all closed', (t) => {
  const { decoder, closed } = makeDecoder();
  const frame = data('announces one', 1);
  const error = t.throws(() => decoder.push(frame, marks({ offset: 0, length: frame.length, fds: [30, 31] })));
  t.is(error.code, 'ERR_PORTUNUS_FD_COUNT_MISMATCH');
  t.deepEqual(
    [...closed].sort((a, b) => a - b),
    [30, 31],
  );
});

test("descriptors whose read ended before the next frame began cannot be that frame's", (t) => {
  const { decoder, closed } = makeDecoder();
  const none = data('announces none');
  const one = data('announces one', 1);
  // The descriptor's read holds only the first frame; the second frame's header starts after it.
  const batch = Buffer.concat([none, one.subarray(0, 3)]);
  t.deepEqual(summary(decoder.push(batch, marks({ offset: 0, length: none.length, fds: [50] }))), [
    { payload: 'announces none', fds: [], truncated: false },
  ]);
  t.throws(() => decoder.push(one.subarray(3), undefined), { code: 'ERR_PORTUNUS_FD_COUNT_MISMATCH' });
  t.deepEqual(closed, [50]);
});

test('descriptors held for an incomplete header wait for it', (t) => {
  const { decoder, closed } = makeDecoder();
  const frame = data('later', 1);
  t.deepEqual(decoder.push(frame.subarray(0, 5), marks({ offset: 0, length: 5, fds: [60] })), []);
  t.true(decoder.inFrame);
  t.deepEqual(summary(decoder.push(frame.subarray(5), undefined)), [{ payload: 'later', fds: [60], truncated: false }]);
  t.deepEqual(closed, []);
});

test('a truncated read (MSG_CTRUNC): the frame is marked truncated and has no descriptors; the stream goes on', (t) => {
  const { decoder, closed } = makeDecoder();
  const frame = data('lost some', 2);
  const next = data('next');
  const batch = Buffer.concat([frame, next]);
  const frames = decoder.push(batch, marks({ offset: 0, length: frame.length, truncated: true }));
  t.deepEqual(summary(frames), [
    { payload: 'lost some', fds: [], truncated: true },
    { payload: 'next', fds: [], truncated: false },
  ]);
  t.deepEqual(closed, []);
});

test('a chunked frame whose last chunk was truncated: the chunks that did arrive are closed', (t) => {
  const { decoder, closed } = makeDecoder();
  const frame = data('300', 300);
  const frames = decoder.push(
    frame,
    marks({ offset: 0, length: 1, fds: fds(253) }, { offset: 1, length: frame.length - 1, truncated: true }),
  );
  t.deepEqual(summary(frames), [{ payload: '300', fds: [], truncated: true }]);
  t.deepEqual(closed, fds(253));
});

test('a truncated marker on a frame that announces no descriptors is dropped: nothing was lost', (t) => {
  const { decoder, closed } = makeDecoder();
  const frame = data('no fds');
  const frames = decoder.push(frame, marks({ offset: 0, length: frame.length, truncated: true }));
  t.deepEqual(summary(frames), [{ payload: 'no fds', fds: [], truncated: false }]);
  t.deepEqual(closed, []);
});

test('a malformed header closes the descriptors that came with it', (t) => {
  for (const [patch, code] of [
    [(bytes) => (bytes[0] = 0), 'ERR_PORTUNUS_BAD_FRAME'],
    [(bytes) => (bytes[2] = 2), 'ERR_PORTUNUS_VERSION_MISMATCH'],
    [(bytes) => (bytes[13] = 1), 'ERR_PORTUNUS_BAD_FRAME'],
    [(bytes) => bytes.writeUInt16BE(1, 4), 'ERR_PORTUNUS_BAD_FRAME'],
    [(bytes) => bytes.writeUInt32BE(MAX_PAYLOAD + 1, 8), 'ERR_PORTUNUS_FRAME_TOO_LARGE'],
    [(bytes) => bytes.writeUInt16BE(1025, 6), 'ERR_PORTUNUS_TOO_MANY_FDS'],
  ]) {
    const { decoder, closed } = makeDecoder();
    const frame = data('x', 1);
    patch(frame);
    t.throws(() => decoder.push(frame, marks({ offset: 0, length: frame.length, fds: [70] })), { code });
    t.deepEqual(closed, [70], code);
    t.false(decoder.inFrame);
  }
});

test('a header split across batches is validated once complete', (t) => {
  const { decoder } = makeDecoder();
  const frame = data('x');
  frame[2] = 7;
  t.deepEqual(decoder.push(frame.subarray(0, 8), undefined), []);
  t.throws(() => decoder.push(frame.subarray(8), undefined), { code: 'ERR_PORTUNUS_VERSION_MISMATCH' });
});

test('the payload limit is the one given to the decoder', (t) => {
  const { decoder } = makeDecoder(10);
  t.deepEqual(
    summary(decoder.push(data('0123456789'), undefined)).map((frame) => frame.payload),
    ['0123456789'],
  );
  t.throws(() => decoder.push(data('0123456789a'), undefined), { code: 'ERR_PORTUNUS_FRAME_TOO_LARGE' });
});

test('dispose() closes the descriptors of a frame in progress, once', (t) => {
  const { decoder, closed } = makeDecoder();
  const frame = data('never finished', 2);
  decoder.push(frame.subarray(0, HEADER_SIZE + 3), marks({ offset: 0, length: HEADER_SIZE + 3, fds: [80, 81] }));
  t.true(decoder.inFrame);
  decoder.dispose();
  t.deepEqual(closed, [80, 81]);
  t.false(decoder.inFrame);
  decoder.dispose();
  t.deepEqual(closed, [80, 81]);
});

test('dispose() closes descriptors still waiting for an incomplete header', (t) => {
  const { decoder, closed } = makeDecoder();
  decoder.push(data('x', 1).subarray(0, 3), marks({ offset: 0, length: 3, fds: [90] }));
  decoder.dispose();
  t.deepEqual(closed, [90]);
});
