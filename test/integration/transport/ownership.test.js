// Who owns a handed-off connection, seen from its client. After the ACK the sender closes its copy without
// shutting the connection down (the client sees no EOF and keeps talking, to the child now); the child
// closing it is what ends it. A handoff that fails (the child refuses it, or dies with it in flight)
// rejects with a coded error and leaves the socket with the sender, bytes Node had buffered included.
import test from 'ava';
import { distributeTransport } from '../../../dist/index.js';
import {
  BACKENDS,
  closedSocket,
  collector,
  connectedPair,
  eventually,
  listening,
  startPeer,
  within,
} from '../../helpers/backends.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';

const SERVE = 'transport-adopt-and-serve';
const REFUSE = 'transport-refuse-every-handoff';

/** The sender serves `accepted` itself: it writes to the client and reads what the client sends next. */
async function assertSenderServes(t, client, accepted, atClient, alreadyBuffered = '') {
  const atSender = collector(accepted);
  accepted.write('served by the sender');
  await atClient.until('served by the sender');
  client.write('to the sender');
  t.is((await atSender.until('to the sender')).toString(), `${alreadyBuffered}to the sender`);
}

for (const backend of BACKENDS) {
  test.serial(`the sender closing its copy sends no EOF; the child closing it does (${backend})`, async (t) => {
    const before = openFdCount();
    const peer = await startPeer(t, backend, SERVE);
    const server = await listening('127.0.0.1', { pauseOnConnect: true });
    const { client, accepted } = await connectedPair(server);
    const atClient = collector(client);
    const handoff = await within(
      distributeTransport(peer.channel, accepted, { metadata: { mode: 'echo' } }),
      'the ACK',
    );
    await peer.take('adopted', (report) => report.id === handoff.id);
    await closedSocket(accepted);
    t.true(accepted.destroyed, "the sender's copy is closed");

    for (const round of ['one', 'two', 'three']) {
      client.write(round);
      await atClient.until(round);
    }
    t.is(atClient.text, 'onetwothree');
    t.false(atClient.sawEnd, "the sender's close did not shut the connection down");

    await peer.command({ op: 'end', id: handoff.id });
    await within(atClient.ended, 'EOF from the child');
    client.destroy();
    server.close();
    await peer.stop();
    await assertNoFdLeak(t, before);
  });

  test.serial(
    `a child that adopts nothing refuses: HANDOFF_REFUSED, the sender keeps the socket and its buffered bytes (${backend})`,
    async (t) => {
      const before = openFdCount();
      const peer = await startPeer(t, backend, REFUSE);
      const childBefore = await peer.fdCount();
      const server = await listening('127.0.0.1');
      const { client, accepted } = await connectedPair(server);
      accepted.pause();
      const atClient = collector(client);
      client.write('EARLY;');
      await eventually(() => accepted.readableLength === 6, 'Node to buffer the early bytes');

      const error = await within(
        distributeTransport(peer.channel, accepted).then(
          () => undefined,
          (failure) => failure,
        ),
        'the NACK',
      );
      t.truthy(error, 'the handoff was refused');
      t.is(error.code, 'ERR_PORTUNUS_HANDOFF_REFUSED');
      t.false(accepted.destroyed);
      const childAfter = await peer.settledFdCount(childBefore);
      t.true(
        childAfter <= childBefore,
        `the child closed the descriptor it refused (${childAfter}, ${childBefore} before)`,
      );
      // The buffered bytes were put back in front of the stream.
      await assertSenderServes(t, client, accepted, atClient, 'EARLY;');

      client.destroy();
      accepted.destroy();
      server.close();
      await peer.stop();
      await assertNoFdLeak(t, before);
    },
  );

  test.serial(
    `the child is SIGKILLed with the handoff in flight: CHANNEL_CLOSED, the sender keeps the socket (${backend})`,
    async (t) => {
      const before = openFdCount();
      const peer = await startPeer(t, backend, SERVE);
      const server = await listening('127.0.0.1');
      const { client, accepted } = await connectedPair(server);
      const atClient = collector(client);
      const early = collector(accepted);
      client.write('before;');
      await early.until('before;');
      accepted.removeAllListeners('data');
      accepted.pause();
      client.write('buffered;');
      await eventually(() => accepted.readableLength > 0, 'Node to buffer bytes');

      // The child starves its event loop: the transport frame reaches its socket buffer and stays there.
      await peer.command({ op: 'block', ms: 30_000 });
      await peer.take('blocking');
      let settled = false;
      const handoff = distributeTransport(peer.channel, accepted, { metadata: { mode: 'echo' } }).then(
        () => undefined,
        (failure) => failure,
      );
      handoff.finally(() => {
        settled = true;
      });
      await new Promise((resolve) => setImmediate(resolve));
      await eventually(() => peer.channel.queuedBytes === 0, 'the transport frame to reach the kernel');
      t.false(settled, 'no answer from a blocked child');
      peer.child.kill('SIGKILL');

      const error = await within(handoff, 'the handoff to fail');
      t.truthy(error, 'the handoff failed');
      t.is(error.code, 'ERR_PORTUNUS_CHANNEL_CLOSED');
      t.deepEqual(await within(peer.exited, 'the child to die'), { code: null, signal: 'SIGKILL' });
      t.false(accepted.destroyed);
      await assertSenderServes(t, client, accepted, atClient, 'buffered;');

      client.destroy();
      accepted.destroy();
      server.close();
      peer.channel.destroy();
      await assertNoFdLeak(t, before);
    },
  );
}
