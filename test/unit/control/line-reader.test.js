// The control socket's line splitter: lines split across chunks and several per chunk, CRLF, multi-byte
// characters cut between chunks, and the bound: a line past maxLineBytes (with or without its newline yet)
// ends reading for good, and nothing of it is kept.
import test from 'ava';
import { LineReader } from '../../../dist/control/line-reader.js';

test('lines split across chunks, several in one chunk, CRLF, UTF-8 cut mid-character', (t) => {
  const reader = new LineReader(64);
  t.deepEqual(reader.push(Buffer.from('wor')), { lines: [], overlong: false });
  t.deepEqual(reader.push(Buffer.from('kers\nstats\r\nspawn-')), { lines: ['workers', 'stats'], overlong: false });
  const snowman = Buffer.from('☃\n');
  t.deepEqual(reader.push(Buffer.concat([Buffer.from('workers '), snowman.subarray(0, 1)])), {
    lines: [],
    overlong: false,
  });
  t.deepEqual(reader.push(snowman.subarray(1)), { lines: ['spawn-workers ☃'], overlong: false });
});

test('a line of exactly maxLineBytes passes; one byte more is overlong, before or after its newline', (t) => {
  t.deepEqual(new LineReader(8).push(Buffer.from('12345678\n')), { lines: ['12345678'], overlong: false });
  t.deepEqual(new LineReader(8).push(Buffer.from('ok\n123456789\nlater\n')), { lines: ['ok'], overlong: true });
  const reader = new LineReader(8);
  t.deepEqual(reader.push(Buffer.from('12345')), { lines: [], overlong: false });
  t.deepEqual(reader.push(Buffer.from('6789')), { lines: [], overlong: true });
  // Once overlong, always: where the next request would start cannot be known.
  t.deepEqual(reader.push(Buffer.from('\nworkers\n')), { lines: [], overlong: true });
});

test('a mebibyte without a newline is refused as soon as it passes the bound', (t) => {
  const reader = new LineReader(4096);
  let batch;
  let fed = 0;
  for (const chunk of Array.from({ length: 16 }, () => Buffer.alloc(65536, 'x'))) {
    batch = reader.push(chunk);
    fed += chunk.length;
    if (batch.overlong) break;
  }
  t.true(batch.overlong);
  t.is(fed, 65536, 'the first chunk past the bound ends it');
});
