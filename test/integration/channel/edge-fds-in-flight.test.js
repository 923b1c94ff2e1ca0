// ETOOMANYREFS: Linux refuses a sendmsg once the sending user has more descriptors in flight (sent, not yet
// received) than its RLIMIT_NOFILE. No writability event follows, the receiver has to read first: the link
// retries on a short timer. The sender is a child (test/fixtures/send-past-fds-in-flight-limit.js) under
// `ulimit -n 64`, sending 40 messages of 4 descriptors to this process, which only starts reading once the
// child reports that its sends are stuck; then every send must resolve, in order, every descriptor arriving.
// Root (CAP_SYS_RESOURCE) is exempt from the limit, so as root the child runs as an unprivileged user.
import test from 'ava';
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { channelFromFd } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { addon, within } from '../../helpers/raw-endpoint.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/send-past-fds-in-flight-limit.js', import.meta.url));
const MESSAGES = 40;
const PER_MESSAGE = 4;

const linuxTest = process.platform === 'linux' ? test.serial : test.skip;

linuxTest(
  'a sender past its descriptors-in-flight limit (ETOOMANYREFS) waits, then delivers everything in order once the receiver reads',
  async (t) => {
    const before = openFdCount();
    const [mine, theirs] = addon.socketPair('stream');
    const asRoot = process.getuid?.() === 0;
    const child = spawn(
      'sh',
      ['-c', 'ulimit -n 64 && exec "$0" "$@"', process.execPath, FIXTURE, String(MESSAGES), String(PER_MESSAGE)],
      {
        stdio: ['ignore', 'pipe', 'pipe', theirs],
        ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
      },
    );
    addon.close(theirs);
    t.teardown(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
    const events = [];
    const waiters = new Set();
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      events.push(JSON.parse(line));
      for (const waiter of [...waiters]) waiter();
    });
    const event = (name) => {
      let check;
      return within(
        new Promise((resolve) => {
          check = () => {
            const found = events.find((e) => e.event === name);
            if (found !== undefined) resolve(found);
          };
          waiters.add(check);
          check();
        }),
        `the child's '${name}' (stderr: ${stderr.trim() || 'empty'})`,
      ).finally(() => waiters.delete(check));
    };

    // Tiny frames: without the limit every send would have resolved at once.
    const stuck = await event('stuck');
    t.true(stuck.resolved < MESSAGES, `${stuck.resolved} of ${MESSAGES} sends resolved before anyone read`);

    const channel = channelFromFd(mine);
    const received = [];
    channel.on('message', (message) => {
      const fds = message.takeFds();
      for (const fd of fds) addon.close(fd);
      received.push([message.text(), fds.length]);
    });
    const done = await event('done');
    t.deepEqual(
      done.order,
      Array.from({ length: MESSAGES }, (_, i) => i),
    );
    t.deepEqual(await within(exited, 'the child to exit'), { code: 0, signal: null }, stderr);
    await within(channel.closed, 'the channel to close');
    t.deepEqual(
      received,
      Array.from({ length: MESSAGES }, (_, i) => [String(i), PER_MESSAGE]),
    );
    await assertNoFdLeak(t, before);
  },
);
