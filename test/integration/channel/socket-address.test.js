// What listenChannel() and connectChannel() accept as an address, checked before anything touches the
// filesystem or the network: a path must fit in sockaddr_un's sun_path with its terminating NUL, an abstract
// name must fit in sun_path, both measured in bytes; anything else is a synchronous ERR_INVALID_ARG_VALUE and
// leaves no directory or socket behind. A directory that cannot be created (under /proc) makes listening
// fail instead of hang. Every test compares this process's open descriptor count before and after.
import test from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectChannel, listenChannel } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { addon } from '../../helpers/raw-endpoint.js';
import { once, within } from '../../helpers/within.js';

/** Bytes of sun_path on this platform: 108 on Linux, 104 on macOS and the BSDs. */
const SUN_PATH = addon.sunPathSize;
const linuxTest = process.platform === 'linux' ? test.serial : test.skip;

/** A fresh private (0700) directory, removed at teardown. */
function privateDirectory(t) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-addr-'));
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/**
 * `directory`/<name>.sock where the whole path is exactly `bytes` bytes long; with `twoByteCharacter`, the
 * name starts with one character that takes two bytes in UTF-8 (so the path has one character fewer).
 */
function pathOfBytes(directory, bytes, { twoByteCharacter = false } = {}) {
  const room = bytes - Buffer.byteLength(path.join(directory, '.sock'));
  const result = path.join(directory, `${twoByteCharacter ? `é${'a'.repeat(room - 2)}` : 'a'.repeat(room)}.sock`);
  if (Buffer.byteLength(result) !== bytes) throw new Error(`cannot build a path of ${bytes} bytes in ${directory}`);
  return result;
}

/** A unique abstract name of exactly `bytes` bytes, its leading NUL included. */
function abstractNameOfBytes(bytes) {
  const prefix = `\0portunus-${crypto.randomBytes(6).toString('hex')}-`;
  return prefix + 'n'.repeat(bytes - Buffer.byteLength(prefix));
}

/** Asserts that `call` throws ERR_INVALID_ARG_VALUE synchronously, naming `socketPath`, the length and the limit. */
function assertRefusedSynchronously(t, call, { bytes, limit }) {
  const error = t.throws(call, { code: 'ERR_INVALID_ARG_VALUE' }, 'not a synchronous ERR_INVALID_ARG_VALUE');
  t.regex(error.message, /"socketPath"/);
  t.true(error.message.includes(`at most ${limit} bytes`), error.message);
  t.true(error.message.includes(`not ${bytes} bytes`), error.message);
}

/** Listens on `address`, connects to it, and checks that the two channels talk. */
async function listenConnectPing(t, address) {
  const server = await within(listenChannel(address), 'listenChannel');
  try {
    const accepted = once(server, 'channel', "the server's channel");
    const client = await within(connectChannel(address), 'connectChannel');
    const serverSide = await accepted;
    t.true((await within(client.ping(), 'a pong')) >= 0);
    await within(Promise.all([client.close(), serverSide.close()]), 'both closes');
  } finally {
    await server.close();
  }
}

test.serial(
  'a path too long for sun_path, in a directory that does not exist yet, is refused synchronously: no directory, no stray socket',
  async (t) => {
    const before = openFdCount();
    const base = privateDirectory(t);
    // Cut at sun_path's size, this path would end inside the long directory name: a socket named after a
    // prefix of it, next to it in `base`.
    const socketPath = path.join(base, 'd'.repeat(SUN_PATH), 'channel.sock');
    assertRefusedSynchronously(t, () => listenChannel(socketPath), {
      bytes: Buffer.byteLength(socketPath),
      limit: SUN_PATH - 1,
    });
    assertRefusedSynchronously(t, () => connectChannel(socketPath), {
      bytes: Buffer.byteLength(socketPath),
      limit: SUN_PATH - 1,
    });
    // Whatever an asynchronous part might have done, give it time to show.
    await new Promise((resolve) => setTimeout(resolve, 100));
    t.deepEqual(fs.readdirSync(base), [], 'something was created');
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'the limit counts bytes: a path of sun_path - 1 bytes works; one byte more, or a two-byte character, is refused',
  async (t) => {
    const before = openFdCount();
    const base = privateDirectory(t);
    await listenConnectPing(t, pathOfBytes(base, SUN_PATH - 1));

    const oneTooMany = pathOfBytes(base, SUN_PATH);
    assertRefusedSynchronously(t, () => listenChannel(oneTooMany), { bytes: SUN_PATH, limit: SUN_PATH - 1 });
    // As many characters as the path that works, one of them two bytes long in UTF-8.
    const accented = pathOfBytes(base, SUN_PATH, { twoByteCharacter: true });
    t.is(accented.length, SUN_PATH - 1);
    assertRefusedSynchronously(t, () => listenChannel(accented), {
      bytes: Buffer.byteLength(accented),
      limit: SUN_PATH - 1,
    });
    assertRefusedSynchronously(t, () => connectChannel(accented), {
      bytes: Buffer.byteLength(accented),
      limit: SUN_PATH - 1,
    });
    t.deepEqual(fs.readdirSync(base), [], 'a socket file was left behind');
    await assertNoFdLeak(t, before);
  },
);

linuxTest(
  'an abstract name of sun_path bytes (leading NUL included) works; one byte more is refused synchronously',
  async (t) => {
    const before = openFdCount();
    await listenConnectPing(t, abstractNameOfBytes(SUN_PATH));
    const tooLong = abstractNameOfBytes(SUN_PATH + 1);
    assertRefusedSynchronously(t, () => listenChannel(tooLong), { bytes: SUN_PATH + 1, limit: SUN_PATH });
    assertRefusedSynchronously(t, () => connectChannel(tooLong), { bytes: SUN_PATH + 1, limit: SUN_PATH });
    await assertNoFdLeak(t, before);
  },
);

test.serial(
  'addresses that cannot be a socket are refused synchronously: a NUL inside a path, a lone NUL, not a string',
  (t) => {
    // A string, but not one that can be an address: the value is wrong.
    for (const address of [path.join(os.tmpdir(), 'a\0b.sock'), '\0', '']) {
      t.throws(() => listenChannel(address), { code: 'ERR_INVALID_ARG_VALUE' }, JSON.stringify(address));
      t.throws(() => connectChannel(address), { code: 'ERR_INVALID_ARG_VALUE' }, JSON.stringify(address));
    }
    for (const address of [42, undefined]) {
      t.throws(() => listenChannel(address), { code: 'ERR_INVALID_ARG_TYPE' }, String(address));
      t.throws(() => connectChannel(address), { code: 'ERR_INVALID_ARG_TYPE' }, String(address));
    }
  },
);

test.serial(
  'invalid channel options are refused synchronously by listenChannel() and connectChannel(), before anything is created',
  async (t) => {
    const before = openFdCount();
    const base = privateDirectory(t);
    const socketPath = path.join(base, 'sub', 'channel.sock');
    for (const options of [{ maxPayloadBytes: -1 }, { handshakeTimeoutMs: 'soon' }, { allow: ['root'] }]) {
      for (const call of [() => listenChannel(socketPath, options), () => connectChannel(socketPath, options)]) {
        const error = t.throws(call, undefined, JSON.stringify(options));
        t.true(
          ['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE'].includes(error?.code),
          `${JSON.stringify(options)}: ${error?.code}`,
        );
      }
    }
    t.deepEqual(fs.readdirSync(base), []);
    await assertNoFdLeak(t, before);
  },
);

linuxTest(
  'a socket directory that cannot be created under /proc makes listenChannel() reject with ENOENT instead of hanging',
  async (t) => {
    const before = openFdCount();
    const directory = `/proc/portunus-test-${crypto.randomBytes(6).toString('hex')}`;
    for (const socketPath of [path.join(directory, 'channel.sock'), path.join(directory, 'deeper', 'channel.sock')]) {
      const error = await t.throwsAsync(
        within(listenChannel(socketPath), `listenChannel(${JSON.stringify(socketPath)}) to settle`, 5000),
      );
      t.is(error.code, 'ENOENT', error.message);
      t.is(error.syscall, 'mkdir');
      t.is(error.path, directory);
    }
    t.false(fs.existsSync(directory));
    await assertNoFdLeak(t, before);
  },
);

// Addresses by process id exist where the backend has named pipes (Windows; the Windows lane's
// test/windows/pid.win.mjs tests them there). The unix backend refuses them as unsupported, opening nothing.
test.serial('a channel address by process id is ERR_PORTUNUS_UNSUPPORTED on the unix backend', async (t) => {
  const before = openFdCount();
  await t.throwsAsync(within(connectChannel({ pid: process.pid }), 'connectChannel({ pid })'), {
    code: 'ERR_PORTUNUS_UNSUPPORTED',
    message: /named pipes/,
  });
  await t.throwsAsync(within(listenChannel({ pid: 'self' }), "listenChannel({ pid: 'self' })"), {
    code: 'ERR_PORTUNUS_UNSUPPORTED',
  });
  await assertNoFdLeak(t, before);
});
