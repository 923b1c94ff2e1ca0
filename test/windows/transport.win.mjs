// Sockets handed between unrelated processes over a named pipe channel: WSADuplicateSocketW for the
// peer's pid, WSASocketW on arrival, the adopter's net.Socket / net.Server built on the SOCKET by Node's own
// TCP handle. The sender's net.Socket came from Node (its SOCKET found by its addresses).
import net from 'node:net';
import { distributeTransport, listenChannel } from '../../dist/index.js';
import { handlesBackTo, nextEvent, handlesNow, pipeName, spawnFixture, within } from './helpers.mjs';

export { warmUp } from './helpers.mjs';

async function peerOnChannel(t, what) {
  const server = await listenChannel(pipeName(what));
  t.teardown(() => server.close());
  const peer = spawnFixture(t, 'pipe-peer.mjs', [server.path]);
  const [channel] = await nextEvent(server, 'channel');
  await peer.line();
  t.teardown(() => channel.destroy());
  return { server, channel, peer };
}

async function said(channel, text) {
  const [message] = await nextEvent(channel, 'message');
  return message.payload.toString() === text ? text : `${message.payload} (expected ${text})`;
}

export const tests = [
  {
    name: 'a TCP connection with bytes read before the handoff: the adopter sees them first, then the rest',
    async run(t) {
      const before = handlesNow();
      const { server, channel, peer } = await peerOnChannel(t, 'tcp');
      const listener = net.createServer();
      await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
      const client = net.connect(listener.address().port, '127.0.0.1');
      client.setEncoding('utf8');
      const [accepted] = await nextEvent(listener, 'connection');
      // Bytes this process read and consumed (preRead), and bytes Node buffered that nobody read yet.
      client.write('consumed|');
      const [first] = await nextEvent(accepted, 'data');
      t.equal(first.toString(), 'consumed|');
      accepted.pause();
      client.write('buffered|');
      await within(
        new Promise((resolve) => {
          const poll = () => (accepted.readableLength > 0 ? resolve() : setTimeout(poll, 10));
          poll();
        }),
        'bytes buffered by Node',
      );
      const adopted = said(channel, 'adopted:tcp');
      await channel.send('adopt');
      const handoff = await distributeTransport(channel, accepted, { preRead: first });
      t.ok(handoff !== undefined);
      t.equal(await adopted, 'adopted:tcp');
      t.ok(accepted.destroyed, "the sender's copy is closed after the ACK");
      // The child echoes each chunk it reads with "child:" in front: the pre-read bytes came first.
      let echoed = '';
      const echoedAll = within(
        new Promise((resolve) => {
          client.on('data', (chunk) => {
            echoed += chunk;
            if (echoed.includes('after|')) resolve();
          });
        }),
        'the echo of every byte',
      );
      client.write('after|');
      await echoedAll;
      t.equal(echoed.replace(/child:/g, ''), 'consumed|buffered|after|');
      t.ok(echoed.startsWith('child:consumed|'));
      client.destroy();
      listener.close();
      await channel.send('bye');
      await peer.exited();
      await server.close();
      await handlesBackTo(t, before);
    },
  },
  {
    name: 'a listening TCP server: the adopter accepts on the same port, the sender has closed its copy',
    async run(t) {
      const before = handlesNow();
      const { server, channel, peer } = await peerOnChannel(t, 'listener');
      const listener = net.createServer(() => t.fail('the sender accepted after handing its listener off'));
      await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
      const { port } = listener.address();
      const adopted = said(channel, 'adopted:tcp-server');
      await channel.send('adopt');
      await distributeTransport(channel, listener);
      t.equal(await adopted, 'adopted:tcp-server');
      t.equal(listener.listening, false);
      for (let i = 0; i < 3; i++) {
        const answer = await within(
          new Promise((resolve, reject) => {
            let text = '';
            const socket = net.connect(port, '127.0.0.1');
            socket.setEncoding('utf8');
            socket.on('data', (chunk) => (text += chunk));
            socket.on('end', () => resolve(text));
            socket.on('error', reject);
          }),
          'an answer from the adopted listener',
        );
        t.equal(answer, `child ${peer.child.pid}\n`);
      }
      await channel.send('bye');
      await peer.exited();
      await server.close();
      await handlesBackTo(t, before);
    },
  },
];
