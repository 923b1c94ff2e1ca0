// An adopter that closes the channel as soon as it has the socket must not lose its ACK: the sender would
// take the handoff for failed and keep serving a socket the adopter serves too. The application gets an
// adopted transport only once its ACK is queued.
import test from 'ava';
import net from 'node:net';
import { adoptTransport, channelPair, distributeTransport } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';

function within(promise, what, ms = 10_000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function listening() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

test.serial('closing the channel right after adoptTransport() resolves still acknowledges the handoff', async (t) => {
  const before = openFdCount();
  const [sender, adopter] = channelPair();
  const server = await listening();
  const adopting = adoptTransport(adopter).then(async (adopted) => {
    await adopter.close();
    return adopted;
  });
  const handoff = await within(distributeTransport(sender, server), 'the handoff to settle');
  t.is(handoff.kind, 'tcp-server');
  t.false(server.listening, 'the sender closed its copy after the ACK');
  const adopted = await within(adopting, 'the adopter');
  t.true(adopted.server.listening);
  await new Promise((resolve) => adopted.server.close(resolve));
  await sender.close();
  await assertNoFdLeak(t, before);
});

test.serial("closing the channel inside the 'transport' listener still acknowledges the handoff", async (t) => {
  const before = openFdCount();
  const [sender, adopter] = channelPair();
  const server = await listening();
  const adopted = new Promise((resolve) => {
    adopter.once('transport', (transport) => {
      adopter.close();
      resolve(transport);
    });
  });
  await within(distributeTransport(sender, server), 'the handoff to settle');
  t.false(server.listening);
  const transport = await within(adopted, 'the adopter');
  await new Promise((resolve) => transport.server.close(resolve));
  await sender.close();
  await assertNoFdLeak(t, before);
});
