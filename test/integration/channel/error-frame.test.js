// ERROR frames (docs/protocol.md §3) as a peer may really send them: a well-formed report, and payloads that
// do not parse or are not the JSON object the protocol describes. Each becomes one 'warning'
// ERR_PORTUNUS_REMOTE whose remoteCode is the peer's code when it is a string and undefined otherwise; none is
// answered, none crashes the read path, and the channel stays open.
import test from 'ava';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { channelWithRawPeer, frame, within } from '../../helpers/raw-endpoint.js';
import { once } from '../../helpers/within.js';

const ERROR = 0x05;
const DATA = 0x02;

const REPORTS = [
  {
    label: 'a well-formed report',
    payload: JSON.stringify({ code: 'ERR_PORTUNUS_TRUNCATED', message: 'lost descriptors', frameType: 2 }),
    expected: { remoteCode: 'ERR_PORTUNUS_TRUNCATED', frameType: 2, message: 'peer reported: lost descriptors' },
  },
  {
    label: 'bytes that are not JSON',
    payload: 'certainly not {json',
    expected: { remoteCode: undefined, frameType: undefined, message: 'peer reported: an error' },
  },
  {
    label: 'an empty payload',
    payload: '',
    expected: { remoteCode: undefined, frameType: undefined, message: 'peer reported: an error' },
  },
  {
    label: 'JSON null',
    payload: 'null',
    expected: { remoteCode: undefined, frameType: undefined, message: 'peer reported: an error' },
  },
  {
    label: 'a JSON number',
    payload: '42',
    expected: { remoteCode: undefined, frameType: undefined, message: 'peer reported: an error' },
  },
  {
    label: 'an object whose members have the wrong types',
    payload: JSON.stringify({ code: 7, message: ['not', 'a', 'string'], frameType: 'DATA' }),
    expected: { remoteCode: undefined, frameType: undefined, message: 'peer reported: an error' },
  },
];

test.serial(
  "every ERROR frame, parseable or not, is one 'warning' ERR_PORTUNUS_REMOTE (remoteCode: the peer's string code, else undefined); never answered, the channel stays open",
  async (t) => {
    const before = openFdCount();
    const { channel, raw } = await channelWithRawPeer();
    try {
      await within(channel.ready, 'the hello');
      const warnings = [];
      channel.on('warning', (warning) => warnings.push(warning));
      for (const { payload } of REPORTS) await raw.write(frame(ERROR, payload));
      // A DATA frame behind them proves the channel read on past every report.
      const message = once(channel, 'message', 'the message behind the reports');
      await raw.write(frame(DATA, 'still here'));
      t.is((await message).text(), 'still here');

      t.is(warnings.length, REPORTS.length);
      for (const [index, { label, expected }] of REPORTS.entries()) {
        const warning = warnings[index];
        t.is(warning?.code, 'ERR_PORTUNUS_REMOTE', label);
        t.is(warning?.remoteCode, expected.remoteCode, label);
        t.is(warning?.frameType, expected.frameType, label);
        t.is(warning?.message, expected.message, label);
      }
      t.false(channel.isClosed);
    } finally {
      channel.destroy();
      raw.close();
    }
    // Only the channel's hello went to the peer: an ERROR is never answered, whatever its payload.
    t.deepEqual(
      raw.frames.map((sent) => sent.type),
      [0x01],
    );
    await assertNoFdLeak(t, before);
  },
);
