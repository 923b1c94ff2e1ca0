// Channels addressed by process id (the numeric bootstrap): listenChannel({ pid: 'self' }) and
// connectChannel({ pid }) between two processes that share nothing, and a squatter on a pid's pipe name
// refused by the kernel's record of the server's pid (GetNamedPipeServerProcessId).
import { connectChannel, listenChannel } from '../../dist/index.js';
import { handlesBackTo, handlesNow, nextEvent, spawnFixture } from './helpers.mjs';

export { warmUp } from './helpers.mjs';

const pidPipe = (pid) => `\\\\.\\pipe\\portunus-pid-${pid}`;

export const tests = [
  {
    name: 'two unrelated processes: one listens by its pid, the other connects by that pid',
    async run(t) {
      // Siblings: neither started the other, nothing is inherited; the connector knows only the pid.
      const listener = spawnFixture(t, 'pid-listener.mjs');
      t.equal(await listener.line(), `listening ${listener.child.pid} ${pidPipe(listener.child.pid)}`);
      const connector = spawnFixture(t, 'pipe-peer.mjs', [`pid:${listener.child.pid}`]);
      t.equal(await connector.line(), `connected ${connector.child.pid} server ${listener.child.pid}`);
    },
  },
  {
    name: 'this process connects by pid to a listener by pid, and listens by its own pid',
    async run(t) {
      const before = handlesNow();
      const listener = spawnFixture(t, 'pid-listener.mjs');
      await listener.line();
      const channel = await connectChannel({ pid: listener.child.pid });
      t.equal(channel.peerCredentials().pid, listener.child.pid);
      const reply = nextEvent(channel, 'message');
      await channel.send('by pid');
      t.equal((await reply)[0].payload.toString(), 'ack:by pid');
      t.equal(await listener.line(), `channel ${process.pid} by pid`);
      await channel.close();
      // This process by its own pid: the name is the documented one, the connector a child connecting by pid.
      const server = await listenChannel({ pid: 'self' });
      t.equal(server.path, pidPipe(process.pid));
      await t.rejects(listenChannel({ pid: 'self' }), { code: 'EADDRINUSE' });
      const peer = spawnFixture(t, 'pipe-peer.mjs', [`pid:${process.pid}`]);
      const [accepted] = await nextEvent(server, 'channel');
      t.equal(accepted.peerCredentials().pid, peer.child.pid);
      t.equal(await peer.line(), `connected ${peer.child.pid} server ${process.pid}`);
      const closed = nextEvent(accepted, 'close');
      await accepted.send('bye');
      await closed;
      await peer.exited();
      await server.close();
      listener.child.kill();
      await listener.exited();
      await handlesBackTo(t, before);
    },
  },
  {
    name: "a squatter on a pid's pipe name is refused: the kernel names another server",
    async run(t) {
      const before = handlesNow();
      // Another process takes the name that this process's pid gives, before this process listens on it.
      const squatter = spawnFixture(t, 'pid-listener.mjs', [pidPipe(process.pid)]);
      t.equal(await squatter.line(), `listening ${squatter.child.pid} ${pidPipe(process.pid)}`);
      const error = await connectChannel({ pid: process.pid }).then(
        () => t.fail('connected to a squatter'),
        (refusal) => refusal,
      );
      t.equal(error.code, 'ERR_PORTUNUS_PEER_REFUSED');
      t.equal(error.credentials.pid, squatter.child.pid);
      t.match(error.message, new RegExp(`served by pid ${squatter.child.pid}, not by pid ${process.pid}`));
      // And this process can no longer listen by its pid: the name is taken (EADDRINUSE), not joined.
      await t.rejects(listenChannel({ pid: 'self' }), { code: 'EADDRINUSE' });
      squatter.child.kill();
      await squatter.exited();
      // Nobody on a pid's name: the connect error of a missing pipe.
      await t.rejects(connectChannel({ pid: process.pid }), { code: 'ENOENT' });
      await handlesBackTo(t, before);
    },
  },
];
