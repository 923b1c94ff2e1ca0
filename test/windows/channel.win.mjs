// A channel over a named pipe between two processes that share nothing but the pipe's name, and a peer
// turned away: the pids compared are the kernel's (GetNamedPipeClientProcessId/ServerProcessId).
import net from 'node:net';
import { adoptTransport, channelPair, connectChannel, distributeTransport, listenChannel } from '../../dist/index.js';
import { handlesBackTo, nextEvent, handlesNow, pipeName, spawnFixture, within } from './helpers.mjs';

export { warmUp } from './helpers.mjs';

export const tests = [
  {
    name: 'messages both ways between unrelated processes, peer pids from the kernel',
    async run(t) {
      const before = handlesNow();
      const name = pipeName('channel');
      const server = await listenChannel(name);
      const peer = spawnFixture(t, 'pipe-peer.mjs', [name]);
      const [channel] = await nextEvent(server, 'channel');
      const connected = await peer.line();
      t.equal(connected, `connected ${peer.child.pid} server ${process.pid}`);
      t.equal(channel.peerCredentials().pid, peer.child.pid);
      const reply = nextEvent(channel, 'message');
      await channel.send('echo:over the pipe');
      const [message] = await reply;
      t.equal(message.payload.toString(), 'echoed:over the pipe');
      // A payload larger than one pipe read and one endpoint record.
      const big = 'x'.repeat(300_000);
      const bigReply = nextEvent(channel, 'message');
      await channel.send(`echo:${big}`);
      t.equal((await bigReply)[0].payload.toString(), `echoed:${big}`);
      const closed = nextEvent(channel, 'close');
      await channel.send('bye');
      await closed;
      await peer.exited();
      await server.close();
      await handlesBackTo(t, before);
    },
  },
  {
    name: 'a peer the allow check refuses is closed, named by its kernel pid',
    async run(t) {
      const before = handlesNow();
      const name = pipeName('refused');
      const server = await listenChannel(name, { allow: () => false });
      server.on('channel', () => t.fail('a refused peer reached the application'));
      const peer = spawnFixture(t, 'pipe-peer.mjs', [name]);
      const [refused] = await nextEvent(server, 'refused');
      t.equal(refused.credentials.pid, peer.child.pid);
      t.equal(refused.error.code, 'ERR_PORTUNUS_PEER_REFUSED');
      // The refused client's connect fails (the pipe closes before any hello) and it exits.
      const [code] = await peer.exited();
      t.notEqual(code, 0);
      await server.close();
      await handlesBackTo(t, before);
    },
  },
  {
    name: 'connecting where nobody listens fails with ENOENT; a taken name with EADDRINUSE',
    async run(t) {
      const name = pipeName('nobody');
      await t.rejects(connectChannel(name), { code: 'ENOENT' });
      const server = await listenChannel(name);
      await t.rejects(listenChannel(name), { code: 'EADDRINUSE' });
      await server.close();
      await within(Promise.resolve(), 'nothing');
    },
  },
  {
    name: 'channelPair() in one process: a pipe of one instance, a socket handed from one end to the other',
    async run(t) {
      const before = handlesNow();
      const [a, b] = channelPair();
      const message = nextEvent(b, 'message');
      await a.send('across the pair');
      t.equal((await message)[0].payload.toString(), 'across the pair');
      const listener = net.createServer((socket) => socket.end('from the sender\n'));
      await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
      const { port } = listener.address();
      const adopted = adoptTransport(b);
      await distributeTransport(a, listener);
      const { server } = await adopted;
      server.on('connection', (socket) => socket.end('from the adopted listener\n'));
      const answer = await within(
        new Promise((resolve, reject) => {
          let text = '';
          net
            .connect(port, '127.0.0.1')
            .setEncoding('utf8')
            .on('data', (chunk) => (text += chunk))
            .on('end', () => resolve(text))
            .on('error', reject);
        }),
        'an answer',
      );
      t.equal(answer, 'from the adopted listener\n');
      await new Promise((resolve) => server.close(resolve));
      await a.close();
      await b.close();
      await handlesBackTo(t, before);
    },
  },
];
