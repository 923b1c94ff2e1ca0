// Malformed input from a hostile or broken peer: garbage, bad header fields, oversized frames, frames before
// the hello, bad hellos, a peer that closes in the middle of a frame. Each must close the channel with its
// documented code (docs/protocol.md, "Frame header"), at once (no waiting for bytes that will never come),
// and close any descriptor that came with the bad input.
import test from 'ava';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { addon, channelWithRawPeer, frame, hello, probe, within } from '../../helpers/raw-endpoint.js';

/**
 * Opens a channel whose raw peer has sent its hello (unless `sendHello` is false), lets `act(raw, fd)` send
 * the bad input (with `fd`, a probe descriptor, if it wants one), and checks that the channel closes with
 * `code`, that the peer sees the end of the socket, and that the probe descriptor was closed on receipt.
 */
async function expectClose(t, { code, act, sendHello = true, options, withFd = false }) {
  const before = openFdCount();
  const { channel, raw } = await channelWithRawPeer({ sendHello, options });
  const errors = [];
  channel.on('error', (error) => errors.push(error));
  if (sendHello) await within(channel.ready, 'the hello');
  // Read the channel's hello first: a peer that closes with bytes unread makes the kernel report ECONNRESET
  // instead of the end of stream these tests are about.
  await raw.frameOfType(0x01);
  const sent = withFd ? probe() : undefined;
  await act(raw, sent?.fd);
  if (sent !== undefined) addon.close(sent.fd);

  const error = await within(channel.closed, 'the channel to close');
  if (code === undefined) {
    t.is(error, undefined);
    t.deepEqual(errors, []);
  } else {
    t.is(error?.code, code, error?.message);
    t.deepEqual(errors, [error]);
  }
  t.true(channel.isClosed);
  await t.throwsAsync(channel.send('after'), { code: 'ERR_PORTUNUS_CHANNEL_CLOSED' });
  // The channel closed its socket: the peer (unless it closed first) reads to the end.
  if (!raw.isClosed) await raw.until((r) => r.status !== undefined, 'the end of the channel socket');
  if (sent !== undefined) {
    // End of stream at the probe means every copy of the descriptor sent with the bad input is closed.
    await sent.reader.until((r) => r.status === 1, 'the descriptor sent with the bad input to be closed');
    sent.reader.close();
  }
  raw.close();
  await assertNoFdLeak(t, before);
  return error;
}

const LIMIT = 16 * 1024 * 1024;

const cases = [
  ['garbage instead of a header', 'ERR_PORTUNUS_BAD_FRAME', Buffer.from('GET / HTTP/1.1\r\n\r\n')],
  ['a bad magic', 'ERR_PORTUNUS_BAD_FRAME', frame(0x02, 'x', { magic: 'NP' })],
  ['non-zero reserved bytes', 'ERR_PORTUNUS_BAD_FRAME', frame(0x02, 'x', { reserved: 1 })],
  ['non-zero last reserved byte', 'ERR_PORTUNUS_BAD_FRAME', frame(0x02, 'x', { reserved: 0x80000000 })],
  ['an unknown flag 0x0001', 'ERR_PORTUNUS_BAD_FRAME', frame(0x02, 'x', { flags: 0x0001 })],
  ['an unknown flag 0x8000', 'ERR_PORTUNUS_BAD_FRAME', frame(0x02, 'x', { flags: 0x8000 })],
  ['protocol version 2', 'ERR_PORTUNUS_VERSION_MISMATCH', frame(0x02, 'x', { version: 2 })],
  ['protocol version 0', 'ERR_PORTUNUS_VERSION_MISMATCH', frame(0x02, 'x', { version: 0 })],
  // Nothing of the payload is ever sent: the header alone must close the channel.
  [
    'a payload length one over the default limit',
    'ERR_PORTUNUS_FRAME_TOO_LARGE',
    frame(0x02, '', { length: LIMIT + 1 }),
  ],
  ['a payload length of 4 GiB - 1', 'ERR_PORTUNUS_FRAME_TOO_LARGE', frame(0x02, '', { length: 0xffffffff })],
  ['a header announcing 1025 descriptors', 'ERR_PORTUNUS_TOO_MANY_FDS', frame(0x02, '', { fdCount: 1025 })],
  ['a header announcing 65535 descriptors', 'ERR_PORTUNUS_TOO_MANY_FDS', frame(0x02, '', { fdCount: 0xffff })],
  ['a second hello', 'ERR_PORTUNUS_BAD_FRAME', hello()],
];

for (const [what, code, bytes] of cases) {
  test.serial(`${what} closes the channel with ${code}`, (t) =>
    expectClose(t, { code, act: (raw) => raw.write(bytes) }),
  );
}

test.serial('a bad header carrying a descriptor closes the channel and the descriptor', (t) =>
  expectClose(t, {
    code: 'ERR_PORTUNUS_BAD_FRAME',
    withFd: true,
    act: (raw, fd) => raw.write(frame(0x02, 'x', { fdCount: 1, magic: 'XX' }), [fd]),
  }),
);

test.serial('a bad header arriving one byte at a time is caught when its 16th byte arrives', (t) =>
  expectClose(t, {
    code: 'ERR_PORTUNUS_BAD_FRAME',
    act: async (raw) => {
      const bytes = frame(0x02, 'x', { reserved: 7 });
      for (let i = 0; i < bytes.length; i++) await raw.write(bytes.subarray(i, i + 1));
    },
  }),
);

test.serial('a payload over a configured maxPayloadBytes closes the channel with ERR_PORTUNUS_FRAME_TOO_LARGE', (t) =>
  expectClose(t, {
    code: 'ERR_PORTUNUS_FRAME_TOO_LARGE',
    options: { maxPayloadBytes: 1024 },
    act: (raw) => raw.write(frame(0x02, Buffer.alloc(1025))),
  }),
);

test.serial('a payload of exactly maxPayloadBytes is accepted', async (t) => {
  const before = openFdCount();
  const { channel, raw } = await channelWithRawPeer({ options: { maxPayloadBytes: 1024 } });
  const message = within(
    new Promise((resolve) => channel.once('message', (m) => resolve(m.payload.length))),
    'the message',
  );
  await raw.write(frame(0x02, Buffer.alloc(1024, 1)));
  t.is(await message, 1024);
  channel.destroy();
  raw.close();
  await assertNoFdLeak(t, before);
});

test.serial('a DATA frame before the hello closes the channel with ERR_PORTUNUS_BAD_FRAME and its descriptor', (t) =>
  expectClose(t, {
    code: 'ERR_PORTUNUS_BAD_FRAME',
    sendHello: false,
    withFd: true,
    act: (raw, fd) => raw.write(frame(0x02, 'early', { fdCount: 1 }), [fd]),
  }),
);

test.serial('a PING before the hello closes the channel with ERR_PORTUNUS_BAD_FRAME', (t) =>
  expectClose(t, {
    code: 'ERR_PORTUNUS_BAD_FRAME',
    sendHello: false,
    act: (raw) => raw.write(frame(0x03, Buffer.alloc(4))),
  }),
);

test.serial('a hello that is not JSON closes the channel with ERR_PORTUNUS_BAD_FRAME', (t) =>
  expectClose(t, {
    code: 'ERR_PORTUNUS_BAD_FRAME',
    sendHello: false,
    act: (raw) => raw.write(frame(0x01, '{"protocol":')),
  }),
);

test.serial('a hello without a numeric protocol closes the channel with ERR_PORTUNUS_BAD_FRAME', (t) =>
  expectClose(t, {
    code: 'ERR_PORTUNUS_BAD_FRAME',
    sendHello: false,
    act: (raw) => raw.write(frame(0x01, '{"protocol":"1"}')),
  }),
);

test.serial('a hello for protocol 2 closes the channel with ERR_PORTUNUS_VERSION_MISMATCH', (t) =>
  expectClose(t, {
    code: 'ERR_PORTUNUS_VERSION_MISMATCH',
    sendHello: false,
    act: (raw) => raw.write(frame(0x01, '{"protocol":2}')),
  }),
);

test.serial('a peer that closes in the middle of a header ends the channel with ERR_PORTUNUS_BAD_FRAME', (t) =>
  expectClose(t, {
    code: 'ERR_PORTUNUS_BAD_FRAME',
    act: async (raw) => {
      await raw.write(frame(0x02, 'x').subarray(0, 9));
      raw.close();
    },
  }),
);

test.serial(
  "a peer that closes in the middle of a payload ends the channel with ERR_PORTUNUS_BAD_FRAME and closes the frame's descriptor",
  (t) =>
    expectClose(t, {
      code: 'ERR_PORTUNUS_BAD_FRAME',
      withFd: true,
      act: async (raw, fd) => {
        await raw.write(frame(0x02, 'a payload cut short', { fdCount: 1 }).subarray(0, 20), [fd]);
        raw.close();
      },
    }),
);

test.serial('a peer that closes between frames ends the channel cleanly', (t) =>
  expectClose(t, {
    code: undefined,
    act: async (raw) => {
      await raw.write(frame(0x02, 'complete'));
      raw.close();
    },
  }),
);
