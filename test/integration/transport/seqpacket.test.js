// Connected AF_UNIX SOCK_SEQPACKET sockets, which Node's core cannot use: one end of a pair is held by a
// Python peer (its socket module, not ours), the other is handed as { fd } to a Node worker, which adopts it
// as node-unix-socket's SeqpacketSocket where that optional package is installed, or as a raw descriptor
// where it is not (a worker that cannot resolve it: test/fixtures/hide-node-unix-socket.cjs). Message
// boundaries survive the handoff both ways, the adopted descriptor is close-on-exec, and no process leaks
// a descriptor.
import test from 'ava';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { channelPair, distributeTransport } from '../../../dist/index.js';
import { fdBackend } from '../../../dist/binding/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { findPython, startPythonPeer } from '../../helpers/python-peer.js';
import { spawnFixture } from '../../helpers/spawn-fixture.js';
import { within } from '../../helpers/within.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures');
const PEER = path.join(FIXTURES, 'python-seqpacket-peer.py');
const HIDE_PACKAGE = path.join(FIXTURES, 'hide-node-unix-socket.cjs');

const python = findPython('import socket; socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)');
const hasPackage = (() => {
  try {
    createRequire(import.meta.url)('node-unix-socket');
    return true;
  } catch {
    return false;
  }
})();
const SKIPPED_WITHOUT_PACKAGE = hasPackage
  ? ''
  : ' (skipped: node-unix-socket is not installed here; CI installs it with npm install --no-save --save-peer node-unix-socket@0.2.7)';
const SKIPPED_WITHOUT_PYTHON = python === undefined ? ' (skipped: no python3 with AF_UNIX SOCK_SEQPACKET)' : '';

/**
 * A seqpacket pair: the Python peer gets one end as its descriptor 3 (this process closes its copy once the
 * peer has it), the other end is returned, owned by the caller.
 */
function pythonHoldingOneEnd(t, args) {
  const [forPython, forWorker] = fdBackend.socketPair('seqpacket');
  let peer;
  try {
    peer = startPythonPeer(t, python, [PEER, '3', ...args], { stdio: ['ignore', 'pipe', 'pipe', forPython] });
  } finally {
    fdBackend.close(forPython);
  }
  return { peer, fd: forWorker };
}

async function workerFdCount(worker) {
  await worker.channel.send(JSON.stringify({ op: 'fd-count' }));
  return (await worker.reports.take('fd-count')).count;
}

(hasPackage && python ? test.serial : test.skip)(
  `a seqpacket socket handed to a worker is its SeqpacketSocket there, message boundaries kept both ways${SKIPPED_WITHOUT_PACKAGE}${SKIPPED_WITHOUT_PYTHON}`,
  async (t) => {
    const before = openFdCount();
    const worker = spawnFixture(t, 'adopt-seqpacket');
    await within(worker.channel.ready, 'the channel to the worker');
    const workerBefore = await workerFdCount(worker);
    const messages = ['one', 'two, longer', 'x'.repeat(3000), '3'];
    const { peer, fd } = pythonHoldingOneEnd(t, ['echo', ...messages]);

    const handoff = await within(distributeTransport(worker.channel, { fd }), 'the ACK');
    t.is(handoff.kind, 'unix-seqpacket');
    const adopted = await worker.reports.take('adopted');
    t.deepEqual(adopted, {
      event: 'adopted',
      kind: 'unix-seqpacket',
      describedAs: 'unix-seqpacket',
      closeOnExec: true,
    });

    // Python reads one message per recv(): each answer came back whole and separate, in order.
    const received = await peer.event('received');
    t.deepEqual(
      received.messages,
      messages.map((message) => `echo:${message}`),
    );
    t.deepEqual((await worker.reports.take('closed')).messages, messages.length);
    t.deepEqual((await peer.event('eof')).extra, []);
    t.is((await peer.exited()).code, 0, peer.stderr());

    // Not above where it started (Node 24 may close one descriptor of its own in between).
    const workerAfter = await workerFdCount(worker);
    t.true(workerAfter <= workerBefore, `the worker's SeqpacketSocket closed its descriptor (${workerAfter} open)`);
    worker.channel.destroy();
    await within(worker.exited, 'the worker to exit');
    await assertNoFdLeak(t, before);
  },
);

for (const [situation, mode] of [
  ['not installed', 'absent'],
  ['installed but not loadable', 'broken'],
]) {
  (python ? test.serial : test.skip)(
    `node-unix-socket ${situation}: the worker gets the seqpacket socket as a raw descriptor that works${SKIPPED_WITHOUT_PYTHON}`,
    async (t) => {
      const before = openFdCount();
      const worker = spawnFixture(t, 'adopt-seqpacket', {
        env: {
          // The warning is reported through the process's 'warning' event; --no-warnings keeps it off the
          // test's output.
          NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${HIDE_PACKAGE} --no-warnings`.trim(),
          PORTUNUS_TEST_NODE_UNIX_SOCKET: mode,
        },
      });
      await within(worker.channel.ready, 'the channel to the worker');
      const workerBefore = await workerFdCount(worker);
      const { peer, fd } = pythonHoldingOneEnd(t, ['read']);

      const handoff = await within(distributeTransport(worker.channel, { fd }), 'the ACK');
      t.is(handoff.kind, 'unix-seqpacket', 'the sender does not know what the adopter has installed');
      t.deepEqual(await worker.reports.take('adopted'), {
        event: 'adopted',
        kind: 'fd',
        describedAs: 'unix-seqpacket',
        closeOnExec: true,
      });
      if (mode === 'broken') {
        const warning = await worker.reports.take('warning');
        t.like(warning, { type: 'PortunusWarning', code: 'ERR_PORTUNUS_UNSUPPORTED' });
        t.regex(
          warning.message,
          /node-unix-socket is installed but cannot be loaded \(Failed to load native binding\)/,
        );
      }
      await worker.reports.take('closed');
      t.deepEqual((await peer.event('received')).messages, [`raw fd ${worker.child.pid}`]);
      t.deepEqual((await peer.event('eof')).extra, []);
      t.is((await peer.exited()).code, 0, peer.stderr());

      // Not above where it started (Node 24 may close one descriptor of its own in between).
      const workerAfter = await workerFdCount(worker);
      t.true(workerAfter <= workerBefore, `the worker closed the raw descriptor (${workerAfter} open)`);
      worker.channel.destroy();
      await within(worker.exited, 'the worker to exit');
      await assertNoFdLeak(t, before);
    },
  );
}

(hasPackage ? test.serial : test.skip)(
  `node-unix-socket's own SeqpacketSocket is refused (it hides its descriptor) and stays usable${SKIPPED_WITHOUT_PACKAGE}`,
  async (t) => {
    const { SeqpacketSocket } = createRequire(import.meta.url)('node-unix-socket');
    const before = openFdCount();
    const worker = spawnFixture(t, 'adopt-seqpacket');
    await within(worker.channel.ready, 'the channel to the worker');
    const [a, b] = fdBackend.socketPair('seqpacket');
    const here = new SeqpacketSocket(a);
    const there = new SeqpacketSocket(b);

    const error = await t.throwsAsync(distributeTransport(worker.channel, here));
    t.is(error.code, 'ERR_PORTUNUS_UNSUPPORTED');
    t.regex(error.message, /as \{ fd \}/);

    const arrived = new Promise((resolve) => there.once('data', resolve));
    here.write(Buffer.from('still mine'));
    t.is((await within(arrived, 'the message on the pair')).toString(), 'still mine');
    here.destroy();
    there.destroy();
    worker.channel.destroy();
    await within(worker.exited, 'the worker to exit');
    await assertNoFdLeak(t, before);
  },
);

test.serial('the argument error for something that is no transport does not offer a SeqpacketSocket', (t) => {
  const [a, b] = channelPair();
  t.teardown(() => (a.destroy(), b.destroy()));
  const error = t.throws(() => distributeTransport(a, 'socket'));
  t.is(error.code, 'ERR_INVALID_ARG_TYPE');
  t.false(error.message.includes('SeqpacketSocket'), error.message);
});
