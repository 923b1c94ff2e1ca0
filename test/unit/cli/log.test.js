// What `portunus serve` writes for people and for log collectors: on a terminal, log lines above a status
// line that is redrawn in place; in a pipe, plain lines and no status line; with json, one object a line.
import test from 'ava';
import { Log } from '../../../dist/cli/log.js';

/** A stream that records what is written; `isTTY` as a terminal or a pipe would have it. */
function stream(isTTY) {
  const written = [];
  return { isTTY, written, write: (text) => written.push(text), text: () => written.join('') };
}

test('on a terminal: the status line is drawn in place, and a log line goes above it', (t) => {
  const out = stream(true);
  const log = new Log('text', out);
  log.status('portunus: gen 0 · 1 ready');
  log.status('portunus: gen 0 · 1 ready');
  t.is(out.written.length, 1, 'an unchanged status is not redrawn');
  log.info('worker ready', { worker: 2 });
  // eslint-disable-next-line no-control-regex -- the status line is erased with ESC [ K
  t.regex(out.written[1], /^\r\x1b\[K\S+ info {2}worker ready worker=2\nportunus: gen 0 · 1 ready$/);
  log.endStatus();
  t.is(out.written[2], '\r\x1b[K');
});

test('in a pipe: plain timestamped lines, no status line, no escape codes', (t) => {
  const out = stream(false);
  const log = new Log('text', out);
  log.status('portunus: gen 0');
  log.warn('control client refused', { uid: 1001, reason: 'not allowed' });
  t.is(out.written.length, 1);
  t.regex(out.text(), /^\d{4}-\d\d-\d\dT[\d:.]+Z warn {2}control client refused uid=1001 reason="not allowed"\n$/);
  t.false(out.text().includes('\x1b'));
});

test('json: one object a line with time, level, msg and the fields, even on a terminal', (t) => {
  const out = stream(true);
  const log = new Log('json', out);
  log.status('ignored');
  log.error('could not start', { code: 'EADDRINUSE' });
  t.is(out.written.length, 1);
  const entry = JSON.parse(out.text());
  t.like(entry, { level: 'error', msg: 'could not start', code: 'EADDRINUSE' });
  t.false(Number.isNaN(Date.parse(entry.time)));
});
