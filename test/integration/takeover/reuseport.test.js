// Members of a SO_REUSEPORT group are listeners like any other: each is offered under its own name, the
// successor takes each one, and the group lives on (the kernel keeps spreading connections over the
// members, and a new member can still join it). Node lets a server set SO_REUSEPORT (`reusePort`) from
// 22.12 and 23.1 on; under an older Node this file's test is skipped, and says so.
import test from 'ava';
import net from 'node:net';
import path from 'node:path';
import { offerListeners, takeListeners } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { socketDirectory } from '../../helpers/generations.js';
import { within } from '../../helpers/http-load.js';

function listen(server, options) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

const close = (server) => new Promise((resolve) => server.close(() => resolve()));

/** Whether this Node sets SO_REUSEPORT for `reusePort: true` (older ones ignore the option). */
async function reusePortWorks() {
  const first = await listen(net.createServer(), { host: '127.0.0.1', port: 0, reusePort: true });
  try {
    const second = await listen(net.createServer(), { host: '127.0.0.1', port: first.address().port, reusePort: true });
    await close(second);
    return true;
  } catch {
    return false;
  } finally {
    await close(first);
  }
}

const supported = await reusePortWorks();
if (!supported) console.log(`reuseport.test.js: skipped, Node ${process.version} has no reusePort listen option`);

function greeting(port) {
  return within(
    new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.setEncoding('utf8');
      socket.once('data', (text) => {
        socket.destroy();
        resolve(text);
      });
      socket.once('error', reject);
    }),
    `a greeting on port ${port}`,
  );
}

(supported ? test.serial : test.serial.skip)(
  'every member of a SO_REUSEPORT group moves; the group keeps serving and accepting members',
  async (t) => {
    const before = openFdCount();
    const directory = socketDirectory(t);
    const greeter = (who) => net.createServer((socket) => socket.end(who));
    const members = [await listen(greeter('old'), { host: '127.0.0.1', port: 0, reusePort: true })];
    const { port } = members[0].address();
    for (let index = 1; index < 4; index++)
      members.push(await listen(greeter('old'), { host: '127.0.0.1', port, reusePort: true }));
    const listeners = Object.fromEntries(members.map((member, index) => [`member${index}`, member]));
    const offering = await offerListeners({ path: path.join(directory, 'takeover.sock'), listeners });

    const taken = await takeListeners(offering.path);
    t.deepEqual([...taken.listeners.keys()], ['member0', 'member1', 'member2', 'member3']);
    const fresh = [];
    for (const name of Object.keys(listeners)) fresh.push(await taken.listen(name, greeter('new')));
    await within(taken.ready(), 'ready()');
    t.true(members.every((member) => !member.listening));

    const answers = new Set();
    for (let attempt = 0; attempt < 20; attempt++) answers.add(await greeting(port));
    t.deepEqual([...answers], ['new'], 'only the successor answers on the port');
    // The sockets kept SO_REUSEPORT: one more member can join the group on the same port.
    const joined = await listen(greeter('new'), { host: '127.0.0.1', port, reusePort: true });
    await Promise.all([...fresh, joined].map(close));
    await offering.close();
    await assertNoFdLeak(t, before);
  },
);
