// Who may register which service name. The policy decides on the registrant's kernel-recorded uid
// (SO_PEERCRED), never on what it says: checked here with processes that really run as another uid, and,
// for the policy's own rules, with credentials given to ServiceRegistry.register() directly.
import test from 'ava';
import { ServiceRegistry, channelPair, connectTcpmux, registerService } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { startPythonPeer } from '../../helpers/python-peer.js';
import { readBytes, startMux } from '../../helpers/tcpmux.js';
import { within } from '../../helpers/within.js';
import { fileURLToPath } from 'node:url';
import crypto from 'node:crypto';

const NODE_REGISTRANT = fileURLToPath(new URL('../../fixtures/mux-register-service.js', import.meta.url));
const OTHER_UID = 65534;
const own = process.getuid();
// Running a registrant as another uid needs root; on CI (a root container) that is a failure, not a skip.
const asOtherUid = own === 0 || process.env.CI === 'true' ? test.serial : test.skip;

/** Registers `name` from a process running as `uid`; resolves with its 'registered' or 'refused' event. */
async function registerAs(t, uid, registryPath, name) {
  const registry = registryPath.replace(/^\0/, '@');
  const peer = startPythonPeer(t, process.execPath, [
    NODE_REGISTRANT,
    registry,
    name,
    'other',
    String(own),
    String(uid),
  ]);
  const outcome = await Promise.race([peer.event('registered'), peer.event('refused')]);
  return { peer, outcome };
}

/** A unique Linux abstract name: no socket file, so another uid can reach it and the uid check alone decides. */
function abstractName() {
  return `\0portunus-mux-test-${crypto.randomUUID()}`;
}

/** Registrations made in this process through real channels (channelPair), with chosen credentials. */
function channels(t) {
  const made = [];
  t.teardown(() => {
    for (const channel of made) channel.destroy();
  });
  return () => {
    const [a, b] = channelPair();
    made.push(a, b);
    return a;
  };
}

test.serial('register(): the names table, the reserved HELP, and a name held by another uid', (t) => {
  const channel = channels(t);
  const registry = new ServiceRegistry({ names: { echo: [1000, 1001], time: [1000] } });
  t.teardown(() => registry.close());
  t.is(registry.register('ECHO', channel(), { uid: 1000, gid: 1000, pid: 1 }).name, 'echo');
  const refusal = (name, uid) =>
    t.throws(() => registry.register(name, channel(), { uid, gid: uid, pid: 1 }), {
      code: 'ERR_PORTUNUS_REGISTRATION_REFUSED',
    }).reason;
  t.is(refusal('time', 1001), 'not-allowed', 'a name the table gives to another uid');
  t.is(refusal('other', 1000), 'not-allowed', 'a name the table does not list');
  t.is(refusal('echo', 1001), 'taken', 'a name held by another uid, though the table allows both');
  t.is(refusal('help', 1000), 'reserved');
  // The same uid may add registrants (they share the name's connections).
  registry.register('echo', channel(), { uid: 1000, gid: 1000, pid: 2 });
  t.is(registry.service('echo').available().length, 2);
});

test.serial('register(): shareAcrossUids lets two uids share a name; a predicate policy sees the name', (t) => {
  const channel = channels(t);
  const registry = new ServiceRegistry({
    shareAcrossUids: true,
    names: (name, credentials) => name.startsWith(`u${credentials.uid}-`) || name === 'shared',
  });
  t.teardown(() => registry.close());
  registry.register('shared', channel(), { uid: 1000, gid: 1000, pid: 1 });
  registry.register('shared', channel(), { uid: 1001, gid: 1001, pid: 2 });
  registry.register('u1001-mine', channel(), { uid: 1001, gid: 1001, pid: 2 });
  t.throws(() => registry.register('u1001-mine', channel(), { uid: 1000, gid: 1000, pid: 1 }), {
    code: 'ERR_PORTUNUS_REGISTRATION_REFUSED',
  });
  t.deepEqual(registry.names(), ['shared', 'u1001-mine']);
});

test.serial('registerService() is told why it was refused, over the channel', async (t) => {
  const before = openFdCount();
  const { registryPath, close } = await startMux(t, { registry: { names: { allowed: [own] } } });
  const error = await t.throwsAsync(registerService('other', () => {}, { registry: registryPath }));
  t.is(error.code, 'ERR_PORTUNUS_REGISTRATION_REFUSED');
  t.regex(error.message, /may not register/);
  await close();
  await assertNoFdLeak(t, before);
});

asOtherUid('a name held by one uid is refused to another, which can still register its own names', async (t) => {
  const before = openFdCount();
  const registryPath = abstractName();
  const { port, close } = await startMux(t, { registry: { path: registryPath, allow: [own, OTHER_UID] } });
  const mine = await registerService('shared', (socket) => socket.end('mine\n'), { registry: registryPath });

  const taken = await registerAs(t, OTHER_UID, registryPath, 'shared');
  t.is(taken.outcome.event, 'refused');
  t.is(taken.outcome.code, 'ERR_PORTUNUS_REGISTRATION_REFUSED');
  t.regex(taken.outcome.message, new RegExp(`registered by uid ${own}`));

  // Its own name works across the uid boundary: the connection is handed to the other user's process.
  const theirs = await registerAs(t, OTHER_UID, registryPath, 'theirs');
  t.is(theirs.outcome.event, 'registered');
  const socket = await within(connectTcpmux('theirs', { port }), 'the + from the other uid');
  t.is(await readBytes(socket, 6), 'other\n');
  socket.destroy();

  for (const { peer } of [taken, theirs]) {
    peer.child.kill('SIGKILL');
    await peer.exited();
  }
  await mine.close();
  await close();
  await assertNoFdLeak(t, before);
});

asOtherUid('with shareAcrossUids two uids share a name; a names table still binds each', async (t) => {
  const before = openFdCount();
  const registryPath = abstractName();
  const { close } = await startMux(t, {
    registry: {
      path: registryPath,
      shareAcrossUids: true,
      names: { shared: [own, OTHER_UID], rootonly: [own] },
    },
  });
  const mine = await registerService('shared', () => {}, { registry: registryPath });
  const shared = await registerAs(t, OTHER_UID, registryPath, 'shared');
  t.is(shared.outcome.event, 'registered', 'the table allowed the other uid, so it shares the name');
  const rootOnly = await registerAs(t, OTHER_UID, registryPath, 'rootonly');
  t.is(rootOnly.outcome.event, 'refused');
  t.regex(rootOnly.outcome.message, new RegExp(`uid ${OTHER_UID} may not register`));
  for (const { peer } of [shared, rootOnly]) {
    peer.child.kill('SIGKILL');
    await peer.exited();
  }
  await mine.close();
  await close();
  await assertNoFdLeak(t, before);
});
