// Bytes that left the kernel before the handoff are not lost: what the sender read itself (passed as
// preRead), then what Node had buffered for the socket that nobody consumed, then what the client sends
// afterwards, all reach the adopter in that order. The child echoes, so the client sees the order.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { distributeTransport } from '../../../dist/index.js';
import {
  BACKENDS,
  collector,
  connectedPair,
  eventually,
  listening,
  startPeer,
  within,
} from '../../helpers/backends.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';

const SERVE = 'transport-adopt-and-serve';

/** Reads with 'data' until `marker` has arrived, then pauses; resolves with every byte read. */
function readUntilThenPause(socket, marker) {
  return within(
    new Promise((resolve) => {
      const chunks = [];
      socket.on('data', function onData(chunk) {
        chunks.push(chunk);
        if (!Buffer.concat(chunks).includes(marker)) return;
        // pause() first: removing the last 'data' listener alone leaves the stream flowing, bytes unseen.
        socket.pause();
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      });
    }),
    `the sender to read up to ${JSON.stringify(marker)}`,
  );
}

for (const backend of BACKENDS) {
  test.serial(
    `pre-read bytes, then bytes Node buffered, then later bytes reach the child in order (${backend})`,
    async (t) => {
      const before = openFdCount();
      const peer = await startPeer(t, backend, SERVE);
      // No pauseOnConnect: the sender's socket reads from the start, as an application that routes on a head.
      const server = await listening('127.0.0.1');
      const { client, accepted } = await connectedPair(server);
      const atClient = collector(client);

      const headRead = readUntilThenPause(accepted, '|');
      client.write('HEAD|');
      const head = await headRead;
      t.is(head.toString(), 'HEAD|');

      // Paused, Node keeps reading into the socket's buffer up to its high-water mark; the rest stays in the
      // kernel. Both parts must follow the pre-read bytes.
      const middle = randomBytes(256 * 1024);
      client.write(middle);
      await eventually(() => accepted.readableLength > 0, 'Node to buffer bytes for the paused socket');
      const buffered = accepted.readableLength;

      const handoff = await within(
        distributeTransport(peer.channel, accepted, { preRead: head, metadata: { mode: 'echo' } }),
        'the ACK',
      );
      const adopted = await peer.take('adopted', (report) => report.id === handoff.id);
      t.is(adopted.preReadLength, head.length + buffered, 'preRead = the bytes given + the bytes Node had buffered');
      client.write('LATER');

      const expected = Buffer.concat([head, middle, Buffer.from('LATER')]);
      const echoed = await atClient.until(expected.length, 'the whole echo');
      t.is(echoed.length, expected.length);
      t.true(echoed.equals(expected), 'the child saw every byte once, in order');
      client.destroy();
      server.close();
      await peer.stop();
      await assertNoFdLeak(t, before);
    },
  );

  test.serial(`only pre-read bytes, on a socket that never read (pauseOnConnect) (${backend})`, async (t) => {
    const before = openFdCount();
    const peer = await startPeer(t, backend, SERVE);
    const server = await listening('127.0.0.1', { pauseOnConnect: true });
    const { client, accepted } = await connectedPair(server);
    const atClient = collector(client);
    // Bytes already in the kernel's buffer when the handoff happens come after the pre-read ones.
    client.write('in the kernel;');
    const handoff = await within(
      distributeTransport(peer.channel, accepted, { preRead: Buffer.from('given;'), metadata: { mode: 'echo' } }),
      'the ACK',
    );
    const adopted = await peer.take('adopted', (report) => report.id === handoff.id);
    t.is(adopted.preRead, 'given;');
    client.write('after');
    t.is((await atClient.until('after')).toString(), 'given;in the kernel;after');
    client.destroy();
    server.close();
    await peer.stop();
    await assertNoFdLeak(t, before);
  });
}
