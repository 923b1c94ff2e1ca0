// A peer whose hello and end of stream reach the other side in the same read: the hello settles the
// handshake, and the end closes the channel before code waiting for the handshake runs. Such a channel
// must never be handed out already closed (its 'error' and 'close' gone to nobody): listenChannel() reports
// it as 'clientError', connectChannel() rejects. The hostile peer says hello, then starts a frame that
// announces a descriptor (a read carrying descriptors makes the receiver read on, up to the end of stream)
// and hangs up in the middle of its payload; the server is tried on a socket path (Node's server accepts)
// and on an abstract name (the native acceptor accepts). Every test compares this process's open descriptor
// count before and after.
import test from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connectChannel, listenChannel } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { RawEndpoint, addon, frame, hello } from '../../helpers/raw-endpoint.js';
import { until, within } from '../../helpers/within.js';

const OWN_CREDENTIALS = { pid: process.pid, uid: process.geteuid(), gid: process.getegid() };
const CONNECTIONS = 400;
const PARALLEL = 4;

/** A fresh private (0700) directory, removed at teardown. */
function privateDirectory(t) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-closed-'));
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/** HELLO (with `id` as its pid), then a DATA frame announcing one descriptor and 100 payload bytes of which 4 are sent. */
function helloThenTruncatedFrame(id = process.pid) {
  const greeting = hello(id);
  const truncated = frame(0x02, Buffer.from('cut '), { fdCount: 1, length: 100 });
  return { greeting, truncated };
}

/** A descriptor connected to `socketPath`, owned by the caller: an abstract name natively, a path through Node. */
async function connectedDescriptor(socketPath) {
  if (socketPath.startsWith('\0')) return addon.connectAbstract(Buffer.from(socketPath));
  const socket = net.connect(socketPath);
  socket.pause();
  socket.on('error', () => {});
  await within(
    new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }),
    'the hostile client to connect',
  );
  // A duplicate for the raw endpoint, which can attach descriptors; Node's copy is closed right away.
  const fd = addon.dup(socket._handle.fd);
  socket.destroy();
  return fd;
}

/**
 * Connects to `socketPath` as a raw peer: HELLO in one sendmsg, the truncated frame with `fd` attached in a
 * second, then closes. In between it waits for `beforeHangingUp` (the hasty peer does not wait at all).
 * Resolves once everything is in the kernel and the peer's socket is closed.
 */
async function hostileClient(socketPath, fd, id, beforeHangingUp) {
  const raw = new RawEndpoint(await connectedDescriptor(socketPath), { read: false });
  const { greeting, truncated } = helloThenTruncatedFrame(id);
  try {
    await raw.write(greeting);
    if (beforeHangingUp !== undefined) await beforeHangingUp;
    await raw.write(truncated, [fd]);
  } finally {
    raw.close();
  }
}

const ADDRESSES = {
  'a socket path': (t) => path.join(privateDirectory(t), 'channel.sock'),
  'an abstract name': () => `\0portunus-closed-${crypto.randomBytes(8).toString('hex')}`,
};

for (const [label, makeAddress] of Object.entries(ADDRESSES)) {
  const run = label === 'an abstract name' && process.platform !== 'linux' ? test.skip : test.serial;
  run(
    `${CONNECTIONS} peers that say hello, start a frame with a descriptor and hang up on ${label}: each one is a live 'channel' or a 'clientError', never a closed channel`,
    async (t) => {
      await hostileConnections(t, makeAddress(t));
    },
  );
}

/** Runs the hostile peers against a server on `socketPath`, a few at a time, and checks what each became. */
async function hostileConnections(t, socketPath) {
  const before = openFdCount();
  const server = await listenChannel(socketPath);
  const [readEnd, writeEnd] = addon.socketPair('stream');

  const outcome = { live: 0, deadOnArrival: 0, closedAfterwards: 0, clientErrors: 0, codes: new Map() };
  const count = (code) => outcome.codes.set(code, (outcome.codes.get(code) ?? 0) + 1);
  // Patient peers (odd ids) hang up only once their channel was announced: they are sure to be 'channel's
  // that end later. Hasty ones (even ids) hang up at once: the race this test is about.
  const announced = new Map();
  const announcement = (id) => {
    if (!announced.has(id)) announced.set(id, withResolvers());
    return announced.get(id);
  };
  server.on('channel', (channel) => {
    if (channel.isClosed) {
      outcome.deadOnArrival++;
      return;
    }
    outcome.live++;
    // Attached after delivery, as an application would: the end of the channel must still be ahead.
    channel.on('error', () => {});
    channel.once('close', (error) => {
      outcome.closedAfterwards++;
      count(error?.code ?? 'clean');
    });
    announcement(channel.peer.pid).resolve();
  });
  server.on('clientError', (error, credentials) => {
    outcome.clientErrors++;
    count(error.code);
    t.deepEqual(credentials, OWN_CREDENTIALS);
  });

  let next = 0;
  const lane = async () => {
    while (next < CONNECTIONS) {
      const id = ++next;
      const patient = id % 2 === 1;
      await hostileClient(
        socketPath,
        readEnd,
        id,
        patient ? within(announcement(id).promise, `the channel of patient peer ${id}`) : undefined,
      );
    }
  };
  try {
    await within(Promise.all(Array.from({ length: PARALLEL }, lane)), `${CONNECTIONS} hostile connections`, 40_000);
    // Waits that time out are reported by the assertions below, with the counts.
    await until(
      () => outcome.live + outcome.deadOnArrival + outcome.clientErrors === CONNECTIONS,
      'every connection to be settled',
    ).catch(() => {});
    await until(() => outcome.closedAfterwards === outcome.live, "every announced channel's 'close'").catch(() => {});
  } finally {
    await server.close();
    addon.close(readEnd);
    addon.close(writeEnd);
  }
  t.log(
    `live channels ${outcome.live}, 'clientError' ${outcome.clientErrors}, codes ${JSON.stringify([...outcome.codes])}`,
  );

  t.is(outcome.deadOnArrival, 0, "channels that were already closed when 'channel' announced them");
  t.is(
    outcome.live + outcome.clientErrors,
    CONNECTIONS,
    "connections that ended as neither 'channel' nor 'clientError'",
  );
  t.true(outcome.live >= CONNECTIONS / 2, 'every patient peer is a channel');
  t.is(outcome.closedAfterwards, outcome.live, "announced channels whose 'close' never came");
  // Every connection ends in the middle of a frame, whichever way it is reported; ECONNRESET instead when
  // the peer hung up with our hello still unread on its side (after its bytes were delivered all the same).
  for (const code of outcome.codes.keys())
    t.true(['ERR_PORTUNUS_BAD_FRAME', 'ECONNRESET'].includes(code), `unexpected end: ${code}`);
  await assertNoFdLeak(t, before);
}

/** Promise.withResolvers, which Node 20 lacks. */
function withResolvers() {
  let resolve;
  const promise = new Promise((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

test.serial(
  'connectChannel() rejects, instead of resolving with a closed channel, when the server says hello and hangs up mid-frame',
  async (t) => {
    const before = openFdCount();
    const socketPath = path.join(privateDirectory(t), 'raw.sock');
    const [readEnd, writeEnd] = addon.socketPair('stream');
    const { greeting, truncated } = helloThenTruncatedFrame();
    // A raw server that writes everything and hangs up at once, before the client even reads.
    const server = net.createServer({ pauseOnConnect: true }, (socket) => {
      const raw = new RawEndpoint(addon.dup(socket._handle.fd), { read: false });
      socket.destroy();
      raw
        .write(greeting)
        .then(() => raw.write(truncated, [readEnd]))
        .finally(() => raw.close());
    });
    await new Promise((resolve) => server.listen(socketPath, resolve));
    try {
      for (let i = 0; i < 100; i++) {
        const result = await within(
          connectChannel(socketPath).then(
            (channel) => ({ channel }),
            (error) => ({ error }),
          ),
          'connectChannel to settle',
        );
        if (result.channel !== undefined) {
          // Resolving is fine only with a channel whose end is still ahead.
          t.false(result.channel.isClosed, `attempt ${i}: connectChannel resolved with a closed channel`);
          result.channel.on('error', () => {});
          await within(result.channel.closed, 'the announced channel to close');
        } else {
          t.is(result.error.code, 'ERR_PORTUNUS_BAD_FRAME', `attempt ${i}`);
        }
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
      addon.close(readEnd);
      addon.close(writeEnd);
    }
    await assertNoFdLeak(t, before);
  },
);
