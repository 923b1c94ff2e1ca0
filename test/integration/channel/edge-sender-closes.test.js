// Once send() resolves, the kernel holds its own reference to every descriptor of the message: the sender
// may close its copies (and its channel) before the receiver has read anything, and the receiver still gets
// working descriptors. Conversely, descriptors in flight to a receiver that never reads are released when
// its socket is closed.
import test from 'ava';
import fs from 'node:fs';
import { channelFromFd } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { addon, probe, within } from '../../helpers/raw-endpoint.js';

test.serial(
  'the sender closes its descriptors and its channel right after send resolves; the receiver, reading only then, gets working ones',
  async (t) => {
    const before = openFdCount();
    const [a, b] = addon.socketPair('stream');
    const sender = channelFromFd(a);
    const probes = [probe(), probe()];
    await sender.send(
      'closed behind me',
      probes.map((p) => p.fd),
    );
    for (const p of probes) addon.close(p.fd);
    // Nothing has read the other end yet: the message and its descriptors are only in the kernel now.
    await sender.close();

    const receiver = channelFromFd(b);
    const message = await within(
      new Promise((resolve) =>
        receiver.once('message', (m) => {
          const fds = m.takeFds();
          fds.forEach((fd, i) => fs.writeSync(fd, `still works ${i}`));
          for (const fd of fds) addon.close(fd);
          resolve([m.text(), fds.length]);
        }),
      ),
      'the message',
    );
    t.deepEqual(message, ['closed behind me', 2]);
    for (const [i, p] of probes.entries()) {
      await p.reader.until((r) => r.status === 1, `probe ${i} to end`);
      t.is(p.reader.data.toString(), `still works ${i}`);
      p.reader.close();
    }
    // The sender's end is gone: after the message, the receiver sees a clean end.
    t.is(await within(receiver.closed, 'the receiver to close'), undefined);
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'descriptors in flight to a receiver that never reads are released when its socket is closed',
  async (t) => {
    const before = openFdCount();
    const [a, b] = addon.socketPair('stream');
    const sender = channelFromFd(a);
    const { fd, reader } = probe();
    const copies = Array.from({ length: 300 }, () => addon.dup(fd));
    await sender.send('never read', copies);
    for (const copy of [fd, ...copies]) addon.close(copy);
    // Pinned by the unread message: the probe's other end stays open.
    t.is(reader.status, undefined);
    addon.close(b);
    await reader.until((r) => r.status === 1, 'the descriptors in flight to be released');
    reader.close();
    sender.destroy();
    await assertNoFdLeak(t, before);
  },
);
