// Many handoffs in flight on one channel at once: 200 connections (plus a listener and a UDP socket, so
// kinds mix in one batch) distributed in one tick without awaiting each. All are acknowledged, they leave
// in as few TRANSPORT frames as one sendmsg allows, every connection is then served by the child, and no
// descriptor is left behind on this side.
import test from 'ava';
import dgram from 'node:dgram';
import net from 'node:net';
import { distributeTransport } from '../../../dist/index.js';
import { maxFdsPerMessage } from '../../../dist/fd.js';
import { BACKENDS, collector, eventually, listening, startPeer, within } from '../../helpers/backends.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';

const SERVE = 'transport-adopt-and-serve';
const CONNECTIONS = 200;
const TRANSPORT = 0x10;

for (const backend of BACKENDS) {
  test.serial(
    `${CONNECTIONS} connections, a listener and a UDP socket in flight at once, all acknowledged (${backend})`,
    async (t) => {
      const before = openFdCount();
      const peer = await startPeer(t, backend, SERVE);
      const server = await listening('127.0.0.1', { pauseOnConnect: true });
      const accepted = [];
      server.on('connection', (socket) => {
        socket.on('error', () => {});
        accepted.push(socket);
      });
      const clients = [];
      for (let i = 0; i < CONNECTIONS; i++) {
        const client = net.connect(server.address().port, '127.0.0.1');
        client.on('error', () => {});
        clients.push(client);
      }
      await eventually(() => accepted.length === CONNECTIONS, `${CONNECTIONS} connections to be accepted`);
      const extraListener = await listening('127.0.0.1');
      const udp = dgram.createSocket('udp4');
      await new Promise((resolve) => udp.bind(0, '127.0.0.1', resolve));

      let frames = 0;
      const writeFrame = peer.channel.writeFrame;
      peer.channel.writeFrame = function (type, ...rest) {
        if (type === TRANSPORT) frames++;
        return writeFrame.call(this, type, ...rest);
      };
      const transports = [...accepted, extraListener, udp];
      const handoffs = await within(
        Promise.all(
          transports.map((transport, index) =>
            distributeTransport(peer.channel, transport, { metadata: { mode: 'echo', index } }),
          ),
        ),
        'every ACK',
        30_000,
      );
      delete peer.channel.writeFrame;
      t.is(handoffs.length, transports.length);
      t.is(new Set(handoffs.map((handoff) => handoff.id)).size, transports.length, 'distinct ids');
      t.deepEqual(
        handoffs.slice(-2).map((handoff) => handoff.kind),
        ['tcp-server', 'udp'],
      );
      t.true(
        frames <= Math.ceil(transports.length / maxFdsPerMessage),
        `batched: ${frames} TRANSPORT frames for ${transports.length} handoffs`,
      );
      const reports = await Promise.all(
        handoffs.map((handoff) => peer.take('adopted', (report) => report.id === handoff.id)),
      );
      t.deepEqual(
        reports.map((report) => report.metadata.index),
        transports.map((_, index) => index),
        'each envelope went with its own socket',
      );

      // Every client gets its own bytes back from the child.
      await within(
        Promise.all(
          clients.map(async (client, index) => {
            const atClient = collector(client);
            client.write(`#${index};`);
            await atClient.until(`#${index};`);
            client.destroy();
          }),
        ),
        'every connection to echo',
        30_000,
      );
      server.close();
      await peer.stop();
      await assertNoFdLeak(t, before);
    },
  );
}
