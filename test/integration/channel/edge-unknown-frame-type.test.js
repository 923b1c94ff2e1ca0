// Frames of a type nobody handles are refused, not fatal: the receiver closes their descriptors, emits a
// 'warning' (ERR_PORTUNUS_UNKNOWN_FRAME_TYPE), tells the sender with an ERROR frame (which the sender's
// channel turns into a 'warning' ERR_PORTUNUS_REMOTE), and the channel goes on.
import test from 'ava';
import { channelPair } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { addon, channelWithRawPeer, frame, probe, within } from '../../helpers/raw-endpoint.js';

const ERROR = 0x05;

function nextEvent(emitter, name, what) {
  return within(new Promise((resolve) => emitter.once(name, resolve)), what);
}

for (const type of [0x7f, 0xff, 0x00, 0x06, 0x0f]) {
  test.serial(
    `type 0x${type.toString(16)} from a raw peer: descriptors closed, warning, ERROR frame back, channel open`,
    async (t) => {
      const before = openFdCount();
      const { channel, raw } = await channelWithRawPeer();
      await within(channel.ready, 'the hello');
      const probes = [probe(), probe()];
      const warning = nextEvent(channel, 'warning', 'the warning');
      await raw.write(
        frame(type, 'who handles this?', { fdCount: 2 }),
        probes.map((p) => p.fd),
      );
      for (const p of probes) addon.close(p.fd);

      const error = await warning;
      t.is(error.code, 'ERR_PORTUNUS_UNKNOWN_FRAME_TYPE');
      t.is(error.frameType, type);
      const report = await raw.frameOfType(ERROR);
      t.like(JSON.parse(report.payload.toString()), { code: 'ERR_PORTUNUS_UNKNOWN_FRAME_TYPE', frameType: type });
      t.is(report.fdCount, 0);
      // Both descriptors were closed on receipt: nobody holds a copy any more.
      for (const [i, p] of probes.entries()) {
        await p.reader.until((r) => r.status === 1, `descriptor ${i} to be closed`);
        p.reader.close();
      }

      // Still open both ways.
      t.false(channel.isClosed);
      const message = nextEvent(channel, 'message', 'the next message');
      await raw.write(frame(0x02, 'still there'));
      t.is((await message).text(), 'still there');
      await channel.send('and back');
      await raw.until((r) => r.frames.some((f) => f.type === 0x02 && f.payload.toString() === 'and back'), 'the reply');

      channel.destroy();
      raw.close();
      await assertNoFdLeak(t, before);
    },
  );
}

test.serial(
  'between two channels: the receiver warns ERR_PORTUNUS_UNKNOWN_FRAME_TYPE, the sender ERR_PORTUNUS_REMOTE with the remote code',
  async (t) => {
    const before = openFdCount();
    const [a, b] = channelPair();
    const { fd, reader } = probe();
    const receiverWarning = nextEvent(b, 'warning', "the receiver's warning");
    const senderWarning = nextEvent(a, 'warning', "the sender's warning");
    await a.sendFrame(0x42, 'unhandled', [fd]);
    addon.close(fd);

    const local = await receiverWarning;
    t.is(local.code, 'ERR_PORTUNUS_UNKNOWN_FRAME_TYPE');
    t.is(local.frameType, 0x42);
    const remote = await senderWarning;
    t.is(remote.code, 'ERR_PORTUNUS_REMOTE');
    t.is(remote.remoteCode, 'ERR_PORTUNUS_UNKNOWN_FRAME_TYPE');
    t.is(remote.frameType, 0x42);
    await reader.until((r) => r.status === 1, 'the descriptor to be closed by the receiver');
    reader.close();

    const message = nextEvent(b, 'message', 'a message after the refusal');
    await a.send('after');
    t.is((await message).text(), 'after');
    t.false(a.isClosed || b.isClosed);
    await a.close();
    await b.close();
    await assertNoFdLeak(t, before);
  },
);

test.serial('descriptors attached to a PING are closed; the PING is answered', async (t) => {
  const before = openFdCount();
  const { channel, raw } = await channelWithRawPeer();
  await within(channel.ready, 'the hello');
  const { fd, reader } = probe();
  const id = Buffer.from([0, 0, 0, 7]);
  await raw.write(frame(0x03, id, { fdCount: 1 }), [fd]);
  addon.close(fd);
  const pong = await raw.frameOfType(0x04);
  t.deepEqual(pong.payload, id);
  await reader.until((r) => r.status === 1, 'the descriptor to be closed');
  reader.close();
  t.false(channel.isClosed);
  channel.destroy();
  raw.close();
  await assertNoFdLeak(t, before);
});

test.serial('an ERROR frame that is not JSON is still a warning ERR_PORTUNUS_REMOTE, not a failure', async (t) => {
  const before = openFdCount();
  const { channel, raw } = await channelWithRawPeer();
  await within(channel.ready, 'the hello');
  const warning = nextEvent(channel, 'warning', 'the warning');
  await raw.write(frame(ERROR, '\u0000not json'));
  const error = await warning;
  t.is(error.code, 'ERR_PORTUNUS_REMOTE');
  t.is(error.remoteCode, undefined);
  t.false(channel.isClosed);
  channel.destroy();
  raw.close();
  await assertNoFdLeak(t, before);
});
