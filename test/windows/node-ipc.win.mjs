// The node-ipc backend (Node's own IPC, libuv's socket export on Windows) under node.exe: a parent and the
// child it forked, a connection with pre-read bytes and a listener handed over.
import { fork } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { distributeTransport, nodeIpcChannel } from '../../dist/index.js';
import { nextEvent, within } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

function forkPeer(t) {
  const child = fork(path.join(here, 'fixtures', 'ipc-peer.mjs'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill();
  });
  const channel = nodeIpcChannel(child);
  channel.on('error', () => {});
  return { child, channel };
}

function answerOf(port) {
  return within(
    new Promise((resolve, reject) => {
      let text = '';
      const socket = net.connect(port, '127.0.0.1');
      socket.setEncoding('utf8');
      socket.on('data', (chunk) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    }),
    'an answer',
  );
}

export const tests = [
  {
    name: 'a connection with pre-read bytes and a listener, to a forked child',
    async run(t) {
      const { child, channel } = forkPeer(t);
      await nextEvent(channel, 'ready');
      const listener = net.createServer();
      await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
      const client = net.connect(listener.address().port, '127.0.0.1');
      client.setEncoding('utf8');
      const [accepted] = await nextEvent(listener, 'connection');
      client.write('first|');
      const [first] = await nextEvent(accepted, 'data');
      accepted.pause();
      let said = nextEvent(channel, 'message');
      await distributeTransport(channel, accepted, { preRead: first });
      t.equal((await said)[0].payload.toString(), 'adopted:tcp');
      let echoed = '';
      const echoedAll = within(
        new Promise((resolve) => {
          client.on('data', (chunk) => {
            echoed += chunk;
            if (echoed.includes('second|')) resolve();
          });
        }),
        'the echo',
      );
      client.write('second|');
      await echoedAll;
      t.equal(echoed.replace(/ipc-child:/g, ''), 'first|second|');
      client.destroy();

      said = nextEvent(channel, 'message');
      const { port } = listener.address();
      await distributeTransport(channel, listener);
      t.equal((await said)[0].payload.toString(), 'adopted:tcp-server');
      t.equal(await answerOf(port), `ipc-child ${child.pid}\n`);
      const exited = nextEvent(child, 'exit');
      await channel.close();
      await exited;
    },
  },
];
