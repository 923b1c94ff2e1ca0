// Frames with an empty payload, with and without descriptors. A stream socket drops descriptors sent with
// zero bytes of data, but a frame is never empty on the wire: its 16-byte header carries the descriptors.
import test from 'ava';
import fs from 'node:fs';
import { channelPair } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { addon, channelWithRawPeer, frame, probe, within } from '../../helpers/raw-endpoint.js';

/** Collects messages of `channel`, taking their descriptors; `count(n)` waits for n of them. */
function collect(channel) {
  const messages = [];
  const waiters = new Set();
  channel.on('message', (message) => {
    messages.push({ payload: message.payload, fds: message.takeFds() });
    for (const waiter of [...waiters]) waiter();
  });
  return {
    messages,
    count(n) {
      let check;
      return within(
        new Promise((resolve) => {
          check = () => messages.length >= n && resolve();
          waiters.add(check);
          check();
        }),
        `${n} messages`,
      ).finally(() => waiters.delete(check));
    },
  };
}

test.serial(
  'empty payloads with and without descriptors are delivered, in order, with working descriptors',
  async (t) => {
    const before = openFdCount();
    const [a, b] = channelPair();
    const received = collect(b);
    const probes = [probe(), probe(), probe()];
    await Promise.all([
      a.send(''),
      a.send(Buffer.alloc(0), [probes[0].fd]),
      a.send(new Uint8Array(0)),
      a.send('', [probes[1].fd, probes[2].fd]),
      a.send('last'),
    ]);
    for (const { fd } of probes) addon.close(fd);
    await received.count(5);
    t.deepEqual(
      received.messages.map((m) => [m.payload.length, m.fds.length]),
      [
        [0, 0],
        [0, 1],
        [0, 0],
        [0, 2],
        [4, 0],
      ],
    );
    // Each descriptor is the one sent at that position: write through it, read at the matching probe.
    const fds = received.messages.flatMap((m) => m.fds);
    fds.forEach((fd, i) => fs.writeSync(fd, `via ${i}`));
    for (const fd of fds) addon.close(fd);
    for (const [i, { reader }] of probes.entries()) {
      await reader.until((r) => r.status === 1, `probe ${i} to end`);
      t.is(reader.data.toString(), `via ${i}`);
      reader.close();
    }
    await a.close();
    await b.close();
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'a header-only frame from a raw peer, its descriptor on the header, is a message with an empty payload',
  async (t) => {
    const before = openFdCount();
    const { channel, raw } = await channelWithRawPeer();
    const received = collect(channel);
    await within(channel.ready, 'the hello');
    const { fd, reader } = probe();
    await raw.write(frame(0x02, '', { fdCount: 1 }), [fd]);
    addon.close(fd);
    await raw.write(frame(0x02, ''));
    await received.count(2);
    t.deepEqual(
      received.messages.map((m) => [m.payload.length, m.fds.length]),
      [
        [0, 1],
        [0, 0],
      ],
    );
    fs.writeSync(received.messages[0].fds[0], 'through');
    addon.close(received.messages[0].fds[0]);
    await reader.until((r) => r.status === 1, 'the probe to end');
    t.is(reader.data.toString(), 'through');
    reader.close();
    channel.destroy();
    raw.close();
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'the native endpoint refuses a zero-byte write instead of letting the kernel drop its descriptors',
  async (t) => {
    const before = openFdCount();
    const [a, b] = addon.socketPair('stream');
    const endpoint = new addon.Endpoint(
      a,
      () => {},
      () => {},
    );
    const error = t.throws(() => endpoint.write(Buffer.alloc(4), 0, 0, Int32Array.of(b)));
    t.is(error.code, 'ERR_INVALID_ARG_TYPE');
    t.throws(() => endpoint.write(Buffer.alloc(0), 0, 0));
    t.throws(() => endpoint.write(Buffer.alloc(4), 2, 3), undefined, 'a range past the end of the buffer');
    endpoint.close();
    addon.close(b);
    await assertNoFdLeak(t, before);
  },
);
