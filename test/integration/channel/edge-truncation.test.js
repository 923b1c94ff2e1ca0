// MSG_CTRUNC for real: a receiver at its open-file limit. The child (test/fixtures/receive-at-fd-limit.js)
// runs under `ulimit -n 1024` and fills its descriptor table but for a few slots; a message with more
// descriptors than that then reaches it with some installed and the rest dropped by the kernel. The child's
// channel must report the frame as truncated (a 'warning' ERR_PORTUNUS_TRUNCATED, never a message with a
// partial set), close what did arrive, tell the sender (a 'warning' ERR_PORTUNUS_REMOTE), and keep working.
// With more than one sendmsg's worth of descriptors, the truncated read may be the first chunk or a later
// one: either way the whole frame is refused.
import test from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { socketPairForChild } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { addon, probe, within } from '../../helpers/raw-endpoint.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/receive-at-fd-limit.js', import.meta.url));

/** The child's answers, in order; `next(event)` waits for the next answer and checks its name. */
function answers(channel) {
  const queue = [];
  const waiters = [];
  channel.on('message', (message) => {
    const answer = message.json();
    if (waiters.length > 0) waiters.shift()(answer);
    else queue.push(answer);
  });
  return {
    async next(t, event) {
      const answer =
        queue.length > 0
          ? queue.shift()
          : await within(new Promise((resolve) => waiters.push(resolve)), `the child's '${event}'`);
      t.is(answer.event, event, JSON.stringify(answer));
      return answer;
    },
  };
}

async function truncate(t, { free, count }) {
  const before = openFdCount();
  const { channel, childFd, closeChildFd } = socketPairForChild();
  // `ulimit -n` sets both limits: Node raises its soft limit to the hard one at startup, so both must be low.
  const child = spawn('sh', ['-c', 'ulimit -n 1024 && exec "$0" "$@"', process.execPath, FIXTURE], {
    stdio: ['ignore', 'inherit', 'inherit', childFd],
  });
  closeChildFd();
  t.teardown(() => child.kill('SIGKILL'));
  const exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  const child$ = answers(channel);
  const warnings = [];
  channel.on('warning', (error) => warnings.push(error));

  const { openFds: childFdsAtStart } = await child$.next(t, 'ready');
  await channel.send(JSON.stringify({ cmd: 'fill', free }));
  t.true((await child$.next(t, 'filled')).fillers > 0);

  // All copies of one socket: the probe's end of stream means every copy is closed.
  const sent = probe();
  const copies = Array.from({ length: count }, () => addon.dup(sent.fd));
  const remoteWarning = within(new Promise((resolve) => channel.once('warning', resolve)), "the child's report");
  await channel.send(JSON.stringify({ cmd: 'take' }), copies);
  for (const fd of copies) addon.close(fd);
  addon.close(sent.fd);

  t.like(await child$.next(t, 'warning'), { code: 'ERR_PORTUNUS_TRUNCATED', frameType: 0x02 });
  const remote = await remoteWarning;
  t.is(remote.code, 'ERR_PORTUNUS_REMOTE');
  t.is(remote.remoteCode, 'ERR_PORTUNUS_TRUNCATED');
  t.is(remote.frameType, 0x02);
  // What was installed got closed, the kernel released the rest: no copy is left anywhere.
  await sent.reader.until((r) => r.status === 1, 'every copy sent to be closed');
  t.is(sent.reader.data.length, 0, 'the truncated message never reached the application');
  sent.reader.close();

  await channel.send(JSON.stringify({ cmd: 'release' }));
  // Not above where it started: a leak. (Node 24 may close one descriptor of its own in between, so the
  // count can come out one lower: that is not ours to assert.)
  const childFdsAtEnd = (await child$.next(t, 'released')).openFds;
  t.true(
    childFdsAtEnd <= childFdsAtStart,
    `the child's descriptor table is back where it started (${childFdsAtEnd} open, ${childFdsAtStart} at start)`,
  );

  // The same channel delivers the next message whole.
  const after = probe();
  await channel.send(JSON.stringify({ cmd: 'take' }), [after.fd]);
  addon.close(after.fd);
  t.is((await child$.next(t, 'took')).count, 1);
  await after.reader.until((r) => r.status === 1, 'the descriptor of the next message');
  t.is(after.reader.data.toString(), 'child was here');
  after.reader.close();

  t.is(warnings.length, 1);
  await channel.close();
  t.deepEqual(await within(exited, 'the child to exit'), { code: 0, signal: null });
  await assertNoFdLeak(t, before);
}

const M = addon.maxFdsPerMessage;

test.serial(
  '2 descriptors for no free slot at all (no control data arrives): reported truncated, the channel goes on',
  (t) => truncate(t, { free: 0, count: 2 }),
);
test.serial(
  '3 descriptors for 1 free slot: reported truncated on both sides, nothing leaks, the channel goes on',
  (t) => truncate(t, { free: 1, count: 3 }),
);
test.serial('300 descriptors for 100 free slots: the first chunk is truncated, the second closed with it', (t) =>
  truncate(t, { free: 100, count: 300 }),
);
test.serial(`300 descriptors for ${M + 7} free slots: the first chunk arrives whole, the second is truncated`, (t) =>
  truncate(t, { free: M + 7, count: 300 }),
);
