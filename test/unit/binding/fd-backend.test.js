// The FdBackend contract (src/binding/backend.ts), checked on the fake backend and on the real one with the
// same test bodies: the unit tests of the channel and transport layers trust the fake only as far as this
// file shows it behaves like the native endpoint and the kernel behind it. Endpoints are used raw
// (helpers/raw-endpoint.js), without framing.
import test from 'ava';
import { constants } from 'node:os';
import { FD_BACKENDS, installFdBackend, turn } from '../../helpers/fd-backends.js';
import { RawEndpoint } from '../../helpers/raw-endpoint.js';

const { EAGAIN, EPIPE, ECONNRESET } = constants.errno;

/** Gives the real backend's poll a few milliseconds, the fake a few turns: what has not happened by then won't. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await turn();
  await new Promise((resolve) => setTimeout(resolve, 20));
};

for (const kind of FD_BACKENDS) {
  test.serial(
    `socketPair(): connected Unix sockets of the type asked for, this process as peer (${kind})`,
    async (t) => {
      const kit = installFdBackend(t, kind);
      const { backend } = kit;
      const before = kit.fdCount();
      const [a, b] = backend.socketPair('stream');
      t.like(backend.describeSocket(a), { kind: 'unix-stream', family: 'unix', type: 'stream', listening: false });
      t.deepEqual(backend.socketKind(b), { kind: 'unix-stream', listening: false });
      t.deepEqual(backend.peerCredentials(a), { pid: process.pid, uid: process.getuid(), gid: process.getgid() });
      const [c, d] = backend.socketPair('seqpacket');
      t.is(backend.socketKind(c).kind, 'unix-seqpacket');
      const [e, f] = backend.socketPair('dgram');
      t.is(backend.socketKind(e).kind, 'unix-dgram');
      for (const fd of [a, b, c, d, e, f]) backend.close(fd);
      await kit.assertNoFdLeak(t, before);
    },
  );

  test.serial(
    `dup() makes another descriptor of the same socket; a closed one is EBADF everywhere (${kind})`,
    async (t) => {
      const kit = installFdBackend(t, kind);
      const { backend } = kit;
      const before = kit.fdCount();
      const [a, b] = backend.socketPair('stream');
      const copy = backend.dup(a);
      t.not(copy, a);
      t.true(kit.sameFile(copy, a));
      t.false(kit.sameFile(a, b));
      backend.setInheritable(copy, true);
      backend.close(a);
      t.false(kit.isOpen(a));
      t.true(kit.isOpen(copy));
      for (const call of [
        () => backend.close(a),
        () => backend.dup(a),
        () => backend.describeSocket(a),
        () => backend.socketKind(a),
        () => backend.setInheritable(a, false),
        () => backend.peerCredentials(a),
      ]) {
        t.like(t.throws(call), { code: 'EBADF', fd: a }, call.toString());
      }
      backend.close(copy);
      backend.close(b);
      await kit.assertNoFdLeak(t, before);
    },
  );

  test.serial(
    `a read takes the descriptors of the first write it reaches that has some, and ends with that write (${kind})`,
    async (t) => {
      const kit = installFdBackend(t, kind);
      const { backend } = kit;
      const before = kit.fdCount();
      const [x, y] = backend.socketPair('stream');
      const sender = new RawEndpoint(x, { read: false });
      const receiver = new RawEndpoint(y, { read: false });
      const sent = backend.socketPair('stream');
      t.is(sender.writeOnce(Buffer.from('aaaa')), 4);
      t.is(sender.writeOnce(Buffer.from('bbbbbb'), sent), 6);
      t.is(sender.writeOnce(Buffer.from('cc')), 2);
      receiver.readStart();
      await receiver.until((r) => r.data.length === 12, 'all 12 bytes');
      t.is(receiver.data.toString(), 'aaaabbbbbbcc');
      const [read] = receiver.reads;
      t.is(receiver.reads.length, 1);
      t.like(read, { offset: 0, length: 10, truncated: false });
      // New numbers, for the same sockets: the kernel's copies in flight became ours.
      const received = receiver.takeFds();
      t.is(received.length, 2);
      for (const [i, fd] of received.entries()) {
        t.false(sent.includes(fd));
        t.true(kit.sameFile(fd, sent[i]));
      }
      for (const fd of [...sent, ...received]) backend.close(fd);
      sender.close();
      receiver.close();
      await kit.assertNoFdLeak(t, before);
    },
  );

  test.serial(
    `a descriptor in flight keeps its socket open until the receiver closes its copy (${kind})`,
    async (t) => {
      const kit = installFdBackend(t, kind);
      const { backend } = kit;
      const before = kit.fdCount();
      const [x, y] = backend.socketPair('stream');
      const sender = new RawEndpoint(x);
      const receiver = new RawEndpoint(y, { read: false });
      const [watched, fd] = backend.socketPair('stream');
      const watcher = new RawEndpoint(watched);
      sender.writeOnce(Buffer.from('!'), [fd]);
      backend.close(fd);
      await settle();
      t.is(watcher.status, undefined, 'end of stream while the descriptor was in flight');
      receiver.readStart();
      await receiver.until((r) => r.reads.length === 1, 'the descriptor');
      const [copy] = receiver.takeFds();
      await settle();
      t.is(watcher.status, undefined, 'end of stream while the receiver held its copy');
      backend.close(copy);
      await watcher.until((w) => w.status === 1, 'end of stream once the last copy is closed');
      for (const endpoint of [sender, receiver, watcher]) endpoint.close();
      await kit.assertNoFdLeak(t, before);
    },
  );

  test.serial(
    `a write takes what fits, EAGAIN when nothing does, onWritable once the peer reads (${kind})`,
    async (t) => {
      const kit = installFdBackend(t, kind);
      const [x, y] = kit.backend.socketPair('stream');
      const writer = new RawEndpoint(x, { read: false });
      const reader = new RawEndpoint(y, { read: false });
      const chunk = Buffer.alloc(64 * 1024, 1);
      let total = 0;
      let written;
      while ((written = writer.writeOnce(chunk)) > 0) total += written;
      t.is(written, -EAGAIN);
      t.true(total > 0);
      // RawEndpoint.write() waits for onWritable on EAGAIN.
      const rest = writer.write(chunk);
      await settle();
      reader.readStart();
      await rest;
      await reader.until((r) => r.data.length === total + chunk.length, 'every byte');
      writer.close();
      reader.close();
    },
  );

  test.serial(`the peer's close is end of stream after its data; a write then gets EPIPE (${kind})`, async (t) => {
    const kit = installFdBackend(t, kind);
    const [x, y] = kit.backend.socketPair('stream');
    const mine = new RawEndpoint(x);
    const theirs = new RawEndpoint(y);
    theirs.writeOnce(Buffer.from('bye'));
    theirs.close();
    await mine.until((r) => r.status !== undefined, 'the end of stream');
    t.is(mine.data.toString(), 'bye');
    t.is(mine.status, 1);
    t.is(mine.writeOnce(Buffer.from('?')), -EPIPE);
    mine.close();
  });

  test.serial(
    `a peer that closes with bytes unread resets the connection: data first, then ECONNRESET (${kind})`,
    async (t) => {
      const kit = installFdBackend(t, kind);
      const [x, y] = kit.backend.socketPair('stream');
      const mine = new RawEndpoint(x);
      const theirs = new RawEndpoint(y, { read: false });
      mine.writeOnce(Buffer.from('never read'));
      theirs.writeOnce(Buffer.from('last words'));
      theirs.close();
      await mine.until((r) => r.status !== undefined, 'the end of the connection');
      t.is(mine.data.toString(), 'last words');
      t.is(mine.status, -ECONNRESET);
      mine.close();
    },
  );

  const abstractNames = kind === 'fake' || process.platform === 'linux' ? test.serial : test.skip;
  abstractNames(`abstract names: listen, connect, accept; refused when nobody listens (${kind})`, async (t) => {
    const kit = installFdBackend(t, kind);
    const { backend } = kit;
    const before = kit.fdCount();
    const name = Buffer.from(`\0portunus-unit-fd-backend-${process.pid}`);
    t.like(
      t.throws(() => backend.connectAbstract(name)),
      { code: 'ECONNREFUSED' },
    );
    const listener = backend.listenAbstract(name, 8);
    t.like(backend.describeSocket(listener), { kind: 'unix-stream', listening: true, localPath: name.toString() });
    t.like(
      t.throws(() => backend.listenAbstract(name, 8)),
      { code: 'EADDRINUSE' },
    );
    const accepted = new Promise((resolve) => {
      const acceptor = backend.createAcceptor(listener, (fds, status) => {
        acceptor.close();
        resolve({ fds: [...fds], status });
      });
      acceptor.start();
    });
    const client = new RawEndpoint(backend.connectAbstract(name));
    const { fds, status } = await accepted;
    t.is(status, 0);
    t.is(fds.length, 1);
    const server = new RawEndpoint(fds[0]);
    client.writeOnce(Buffer.from('ping'));
    await server.until((r) => r.data.length === 4, 'the bytes');
    server.close();
    await client.until((r) => r.status === 1, 'the end of stream');
    client.close();
    backend.close(listener);
    t.like(
      t.throws(() => backend.connectAbstract(name)),
      { code: 'ECONNREFUSED' },
    );
    await kit.assertNoFdLeak(t, before);
  });
}

test.serial(
  'fake: a truncated read (MSG_CTRUNC) is marked as native/unix/read-marks.h marks it, its descriptors dropped',
  async (t) => {
    const kit = installFdBackend(t, 'fake');
    const { fake } = kit;
    const [x, y] = fake.socketPair('stream');
    const sender = new RawEndpoint(x);
    const receiver = new RawEndpoint(y);
    const [watched, fd] = fake.socketPair('stream');
    const watcher = new RawEndpoint(watched);
    fake.truncateNextRead(y);
    sender.writeOnce(Buffer.from('lost'), [fd]);
    fake.close(fd);
    await receiver.until((r) => r.reads.length === 1, 'the read');
    t.deepEqual(receiver.reads, [{ offset: 0, length: 4, fds: [], truncated: true }]);
    // The copy in flight was the last one: dropping it ended the watched socket.
    await watcher.until((w) => w.status === 1, 'end of stream');
    for (const endpoint of [sender, receiver, watcher]) endpoint.close();
    await kit.assertNoFdLeak(t, 0);
  },
);
