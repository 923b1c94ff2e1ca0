// The tcpmux name line (RFC 1078): CRLF or a bare LF ends it, names are lower-cased, the bytes after the
// line are kept for the service, and everything a client could send otherwise is classified, never thrown.
import test from 'ava';
import { parseNameLine } from '../../../dist/mux/name-line.js';

const MAX = 16;
const parse = (text) => parseNameLine(Buffer.from(text, 'latin1'), MAX);

test('a name ended by CRLF or LF, in lower case, with the bytes after it', (t) => {
  const crlf = parse('Finger\r\nrest');
  t.is(crlf.kind, 'name');
  t.is(crlf.name, 'finger');
  t.is(crlf.rest.toString(), 'rest');
  const lf = parse('SMTP\n');
  t.is(lf.name, 'smtp');
  t.is(lf.rest.length, 0);
});

test('no line end yet is partial until the name cannot fit any more', (t) => {
  t.is(parse('fing').kind, 'partial');
  t.is(parse('x'.repeat(MAX + 1)).kind, 'partial', 'a CR and LF may still come');
  t.is(parse('x'.repeat(MAX + 2)).kind, 'too-long');
});

test('a name longer than the limit is too long even with its line end', (t) => {
  t.is(parse(`${'x'.repeat(MAX)}\r\n`).kind, 'name');
  t.is(parse(`${'x'.repeat(MAX + 1)}\r\n`).kind, 'too-long');
  t.is(parse(`${'x'.repeat(MAX + 1)}\n`).kind, 'too-long');
});

test('empty lines, spaces, control and non-ASCII bytes are not names', (t) => {
  for (const line of ['\r\n', '\n', 'two words\r\n', 'tab\there\n', 'nul\x00\n', 'caf\xe9\n', '\rx\n', 'a\rb\n'])
    t.is(parse(line).kind, 'invalid', JSON.stringify(line));
});
