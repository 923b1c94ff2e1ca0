// Received descriptors are close-on-exec (MSG_CMSG_CLOEXEC, or fcntl where that flag does not exist): a
// child spawned later must not inherit them. Checked through /proc/<pid>/fdinfo ("flags:" is octal and
// includes 02000000 for O_CLOEXEC) and by looking from inside a spawned child.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { channelPair } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { RawEndpoint, addon, within } from '../../helpers/raw-endpoint.js';

const linuxTest = fs.existsSync('/proc/self/fdinfo') ? test.serial : test.skip;
const O_CLOEXEC = 0o2000000;

function fdinfoFlags(fd) {
  return Number.parseInt(/^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))[1], 8);
}

/** What a child process spawned now finds at descriptor `fd`: the readlink target, or '' if it is closed. */
function seenByChild(fd) {
  const result = spawnSync('sh', ['-c', `readlink /proc/$$/fd/${fd} || true`], { encoding: 'utf8', timeout: 10_000 });
  return result.stdout.trim();
}

linuxTest('descriptors received over a channel are close-on-exec and not inherited by a child', async (t) => {
  const before = openFdCount();
  const [a, b] = channelPair();
  const [x, y] = addon.socketPair('stream');
  // The sender's copy is inheritable on purpose: the flag is per descriptor, the receiver's must not copy it.
  addon.setInheritable(y, true);
  t.is(fdinfoFlags(y) & O_CLOEXEC, 0);
  const received = within(new Promise((resolve) => b.once('message', (m) => resolve(m.takeFds()))), 'the message');
  await a.send('cloexec?', [y]);
  const [fd] = await received;

  t.not(fdinfoFlags(fd) & O_CLOEXEC, 0, 'O_CLOEXEC is set on the received descriptor');
  const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
  t.regex(target, /^socket:/);
  t.not(seenByChild(fd), target, 'a child does not inherit the received descriptor');
  // The check itself can see an inherited descriptor: the sender's copy, made inheritable above.
  t.is(seenByChild(y), fs.readlinkSync(`/proc/self/fd/${y}`));

  for (const open of [fd, x, y]) addon.close(open);
  await a.close();
  await b.close();
  await assertNoFdLeak(t, before);
});

linuxTest('descriptors received by the raw endpoint are close-on-exec', async (t) => {
  const before = openFdCount();
  const [a, b] = addon.socketPair('stream');
  const sender = new RawEndpoint(a);
  const receiver = new RawEndpoint(b);
  const [x, y] = addon.socketPair('stream');
  addon.setInheritable(y, true);
  await sender.write(Buffer.from('x'), [y, y, x]);
  await receiver.until((r) => r.reads.length === 1, 'the descriptors');
  const fds = receiver.takeFds();
  t.is(fds.length, 3);
  for (const fd of fds) t.not(fdinfoFlags(fd) & O_CLOEXEC, 0);
  for (const fd of [...fds, x, y]) addon.close(fd);
  sender.close();
  receiver.close();
  await assertNoFdLeak(t, before);
});
