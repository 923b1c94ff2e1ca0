// An adopted TCP connection is built on Node's own TCP handle (no second round of "what is this fd?"
// system calls), or, where that handle class cannot be had without a deprecation warning
// (--pending-deprecation), with `new net.Socket({ fd })`. Either way the adopter serves the connection and
// Node prints no deprecation warning: the children run with --throw-deprecation, so one would kill them.
import test from 'ava';
import { distributeTransport } from '../../../dist/index.js';
import { collector, connectedPair, listening, startPeer, within } from '../../helpers/backends.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';

const MODES = {
  "Node's TCP handle": '--throw-deprecation',
  'the { fd } fallback (--pending-deprecation)': '--pending-deprecation --throw-deprecation',
};

for (const [mode, nodeOptions] of Object.entries(MODES)) {
  test.serial(`an adopted TCP connection is served, without a deprecation warning: ${mode}`, async (t) => {
    const before = openFdCount();
    const peer = await startPeer(t, 'unix', 'transport-adopt-and-serve', [], { NODE_OPTIONS: nodeOptions });
    const server = await listening('127.0.0.1', { pauseOnConnect: true });
    const { client, accepted } = await connectedPair(server);
    const atClient = collector(client);

    client.write('sent before the handoff|');
    const handoff = await within(distributeTransport(peer.channel, accepted), 'the ACK');
    const adopted = await peer.take('adopted', (report) => report.id === handoff.id);
    t.is(adopted.kind, 'tcp');
    client.write('and after');
    await atClient.until('sent before the handoff|and after');
    t.is(atClient.text, 'sent before the handoff|and after');

    client.destroy();
    server.close();
    await peer.stop();
    t.deepEqual(await peer.exited, { code: 0, signal: null }, 'the child exited cleanly: no deprecation was thrown');
    await assertNoFdLeak(t, before);
  });
}
