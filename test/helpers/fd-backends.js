// Runs a unit test over either descriptor backend: 'fake', the in-memory FdBackend of ./fake-backend.js,
// installed for that one test through the seam in src/binding/index.ts (useFdBackend()), or 'real', the
// native addon's socketpairs, which every other test uses. A test file loops over FD_BACKENDS and registers
// its tests with test.serial, because the backend belongs to the whole process while a test runs. The kit a
// test gets checks descriptors the same way on both: open or not, the same file or not, none leaked.
import fs from 'node:fs';
import { fdBackend, useFdBackend } from '../../dist/binding/index.js';
import { channelFromFd } from '../../dist/index.js';
import { FakeBackend } from './fake-backend.js';
import { assertNoFdLeak, openFdCount } from './fd-count.js';
import { within } from './within.js';

export const FD_BACKENDS = ['fake', 'real'];

/** One turn of the event loop: the fake backend delivers on setImmediate turns. */
export const turn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Makes `kind` the backend for the rest of test `t` and returns the kit. Call it first in the test: its
 * teardown, which puts the real backend back, then runs after every teardown the test adds. `fakeOptions`
 * go to the FakeBackend (maxFdsPerMessage, bufferSize, readChunk).
 */
export function installFdBackend(t, kind, fakeOptions) {
  if (kind === 'real') return realKit();
  if (kind !== 'fake') throw new Error(`unknown descriptor backend ${kind}`);
  const fake = new FakeBackend(fakeOptions);
  const previous = useFdBackend(fake);
  t.teardown(() => {
    fake.dispose();
    useFdBackend(previous);
  });
  return {
    kind,
    backend: fake,
    fake,
    fdCount: () => fake.openFds().length,
    isOpen: (fd) => fake.isOpen(fd),
    sameFile: (a, b) => fake.sameFile(a, b),
    /** Asserts that the table is back to `before` descriptors and that no ownership rule was broken. */
    async assertNoFdLeak(t, before) {
      for (let turns = 0; turns < 10 && fake.openFds().length > before; turns++) await turn();
      const open = fake.openFds();
      t.is(
        open.length,
        before,
        `fake descriptors open: ${open.map((fd) => `${fd} (${fake.describeSocket(fd).kind})`).join(', ')}`,
      );
      t.deepEqual(fake.violations, []);
    },
  };
}

/**
 * Two channels on the ends of one socketpair of the kit's backend, both past their hellos: { a, b, fdA, fdB },
 * where fdA and fdB are the channels' own sockets (theirs to close; a test only names them, to inject faults).
 */
export async function readyChannels(kit, options) {
  const [fdA, fdB] = kit.backend.socketPair('stream');
  const a = channelFromFd(fdA, options);
  const b = channelFromFd(fdB, options);
  await within(Promise.all([a.ready, b.ready]), 'both hellos');
  return { a, b, fdA, fdB };
}

function realKit() {
  return {
    kind: 'real',
    backend: fdBackend,
    fake: undefined,
    fdCount: openFdCount,
    isOpen(fd) {
      try {
        fs.fstatSync(fd);
        return true;
      } catch (error) {
        if (error.code === 'EBADF') return false;
        throw error;
      }
    },
    sameFile(a, b) {
      const [first, second] = [fs.fstatSync(a), fs.fstatSync(b)];
      return first.dev === second.dev && first.ino === second.ino;
    },
    assertNoFdLeak,
  };
}

/** What a promise settled with: 'resolved', or the error it rejected with. */
export const outcome = (promise) =>
  promise.then(
    () => 'resolved',
    (error) => error,
  );

/** `count` sockets of the kit's backend to send, each one end of a pair whose other end is kept. */
export function socketsToSend(kit, count) {
  const pairs = Array.from({ length: count }, () => kit.backend.socketPair('stream'));
  return {
    sent: pairs.map(([, fd]) => fd),
    /** Closes the ends kept, and those sent that are still open (handed back, or never handed off). */
    closeAll: () => pairs.flat().forEach((fd) => kit.isOpen(fd) && kit.backend.close(fd)),
  };
}
