// An FdBackend (src/binding/backend.ts) in memory, for unit tests of the channel and transport layers; a test
// installs it with useFdBackend() through ./fd-backends.js. It keeps a descriptor table of its own numbers,
// open files counted by reference (descriptors, copies in flight, connections waiting to be accepted), and
// connected sockets whose endpoints behave as the native one does (native/unix/endpoint.cc, read-marks.h):
// reads come in batches, with one marks record per read that carried descriptors; a read may begin with bytes
// of writes that carried none, takes the descriptors of the first write it reaches that carried some, and
// ends with that write's bytes; a write takes what fits in the peer's buffer and returns EAGAIN when nothing
// does; a peer released with bytes unread leaves ECONNRESET behind, and end of stream comes once every
// reference to the peer is gone. Nothing touches the operating system and every callback runs on a
// setImmediate turn, so a test runs the same way every time. A test can also make a socket look like
// anything, make writes fail or wait, and make a read lose its descriptors (MSG_CTRUNC).
import { constants } from 'node:os';

// os.constants.errno lacks ETOOMANYREFS (see src/binding/backend.ts): Linux's number stands in for it.
const ERRNO = { ...constants.errno, ETOOMANYREFS: 109 };
/**
 * Numbers start far above any descriptor a test process has, and are never reused: a fake number given to
 * the real backend, a real one given to this one, or a number used after close fails with EBADF instead of
 * reaching some other descriptor.
 */
const FIRST_FD = 100_000;
/** What one batch of the native endpoint reads at most (endpoint.cc: kMaxReadsPerTick, kMaxBytesPerTick). */
const MAX_READS_PER_BATCH = 64;
const MAX_BYTES_PER_BATCH = 1024 * 1024;
/** What one batch of the native acceptor hands over at most, unless start() says otherwise. */
const MAX_ACCEPTS_PER_BATCH = 128;

const DEFAULTS = {
  /** Small, so that frames with a handful of descriptors are already sent in chunks. */
  maxFdsPerMessage: 4,
  /** Bytes a socket holds unread before its peer's writes get EAGAIN. */
  bufferSize: 256 * 1024,
  /** Bytes one read takes at most (the native endpoint's receive chunk). */
  readChunk: 64 * 1024,
};

function systemError(code, syscall, fd) {
  const error = new Error(`${syscall} ${code}${fd === undefined ? '' : ` (fd ${fd})`}: fake backend`);
  return Object.assign(error, { code, errno: -ERRNO[code], syscall, ...(fd === undefined ? {} : { fd }) });
}

function invalidArgument(message) {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_TYPE' });
}

function unixDescription(type, extra = {}) {
  return { kind: `unix-${type}`, family: 'unix', type, listening: false, localPath: '', remotePath: '', ...extra };
}

/** An open file: what descriptors, copies in flight and accept queues refer to. */
class FakeFile {
  refs = 0;
  released = false;

  constructor(description) {
    this.description = description;
  }
}

/** A Unix socket: one end of a connected pair, or a listener. */
class FakeSocket extends FakeFile {
  /** The other end, for a connected socket. */
  peer = null;
  /** The other end was released: reads end after the queue, writes get EPIPE. */
  peerGone = false;
  /** An errno left by the peer (ECONNRESET), reported once the queue is read. */
  pendingError = 0;
  /** Received and not read yet: one segment per write, { bytes, files } (files null when none came). */
  queue = [];
  queuedBytes = 0;
  endpoint = null;
  /** Faults a test asked for: writes held at EAGAIN, errnos for the next writes, reads to truncate. */
  writesBlocked = false;
  failures = [];
  /** Reads that carried descriptors so far, and which of them (by that count) lose their descriptors. */
  readsWithFds = 0;
  truncateAt = new Set();
  /** Every write that went through: { bytes, fds }. */
  writes = [];
  /** For a listener: its name, backlog, connections not accepted yet, and its acceptor. */
  name = undefined;
  backlog = 0;
  acceptQueue = [];
  acceptor = null;
}

export class FakeBackend {
  name = 'fake';
  tooManyRefsErrno = ERRNO.ETOOMANYREFS;
  sunPathSize = 108;
  /** No TCP here: the fake has no reuseport groups. */
  reusePort = false;
  /** Ownership rules broken by the code under test: a descriptor closed under its endpoint, and the like. */
  violations = [];
  #options;
  #table = new Map();
  #nextFd = FIRST_FD;
  #names = new Map();
  /** Endpoints and acceptors open: while one of them is ref'd, a timer keeps the process alive, as libuv would. */
  #handles = new Set();
  #keepAlive = undefined;
  #disposed = false;

  /** Options: maxFdsPerMessage, bufferSize, readChunk (see DEFAULTS). */
  constructor(options = {}) {
    this.#options = { ...DEFAULTS, ...options };
    this.maxFdsPerMessage = this.#options.maxFdsPerMessage;
  }

  // The FdBackend interface.

  socketPair(type = 'stream') {
    if (!['stream', 'seqpacket', 'dgram'].includes(type))
      throw invalidArgument("socketpair type must be 'stream', 'seqpacket' or 'dgram'");
    const a = new FakeSocket(unixDescription(type));
    const b = new FakeSocket(unixDescription(type));
    this.#connect(a, b);
    return [this.#install(a), this.#install(b)];
  }

  dup(fd) {
    return this.#install(this.#entry(fd, 'dup').file);
  }

  close(fd) {
    const entry = this.#entry(fd, 'close');
    if (entry.endpoint !== undefined) this.violations.push(`close(${fd}): the descriptor belongs to an endpoint`);
    this.#table.delete(fd);
    this.#unref(entry.file);
  }

  setInheritable(fd) {
    // Nothing is ever exec'd here, so close-on-exec changes nothing; the descriptor must still be open.
    this.#entry(fd, 'fcntl');
  }

  peerCredentials(fd) {
    this.#connectedSocket(fd, 'getsockopt');
    // Both ends of every connection here were made by this process, which the kernel records as the peer.
    return { pid: process.pid, uid: process.getuid(), gid: process.getgid() };
  }

  describeSocket(fd) {
    return { ...this.#entry(fd, 'fstat').file.description };
  }

  socketKind(fd) {
    const { kind, listening } = this.#entry(fd, 'fstat').file.description;
    return { kind, listening: listening === true };
  }

  createEndpoint(fd, onRead, onWritable) {
    if (typeof onRead !== 'function' || typeof onWritable !== 'function')
      throw invalidArgument('new Endpoint(fd, onRead, onWritable)');
    const entry = this.#entry(fd, 'uv_poll_init');
    const socket = entry.file;
    if (!(socket instanceof FakeSocket) || socket.peer === null) throw systemError('ENOTCONN', 'uv_poll_init', fd);
    if (socket.endpoint !== null) throw new Error(`fake backend: the socket of fd ${fd} has an endpoint already`);
    const endpoint = new FakeEndpoint(this, fd, socket, onRead, onWritable);
    entry.endpoint = endpoint;
    socket.endpoint = endpoint;
    this.#handles.add(endpoint);
    this.updateKeepAlive();
    return endpoint;
  }

  createAcceptor(fd, onAccept) {
    if (typeof onAccept !== 'function') throw invalidArgument('new Acceptor(fd, onAccept)');
    const listener = this.#entry(fd, 'uv_poll_init').file;
    if (!(listener instanceof FakeSocket) || listener.description.listening !== true)
      throw systemError('EINVAL', 'accept4', fd);
    const acceptor = new FakeAcceptor(this, listener, onAccept);
    listener.acceptor = acceptor;
    this.#handles.add(acceptor);
    this.updateKeepAlive();
    return acceptor;
  }

  listenReusePort() {
    throw systemError('EOPNOTSUPP', 'setsockopt');
  }

  steerReusePort() {
    return false;
  }

  listenAbstract(address, backlog) {
    const name = address.toString('latin1');
    if (this.#names.has(name)) throw systemError('EADDRINUSE', 'bind');
    const listener = new FakeSocket({
      kind: 'unix-stream',
      family: 'unix',
      type: 'stream',
      listening: true,
      localPath: name,
    });
    listener.name = name;
    listener.backlog = backlog;
    this.#names.set(name, listener);
    return this.#install(listener);
  }

  connectAbstract(address) {
    const name = address.toString('latin1');
    const listener = this.#names.get(name);
    if (listener === undefined) throw systemError('ECONNREFUSED', 'connect');
    if (listener.acceptQueue.length >= listener.backlog) throw systemError('EAGAIN', 'connect');
    const client = new FakeSocket(unixDescription('stream', { remotePath: name }));
    const server = new FakeSocket(unixDescription('stream', { localPath: name }));
    this.#connect(client, server);
    // The accept queue holds the server's end until an acceptor takes it.
    server.refs++;
    listener.acceptQueue.push(server);
    listener.acceptor?.schedule();
    return this.#install(client);
  }

  // What a test may ask of the fake.

  /** Opens a descriptor that describeSocket() reports as `description` (a pipe, a TCP socket…). */
  open(description) {
    return this.#install(new FakeFile({ ...description }));
  }

  /** From now on, describeSocket() reports `description` for fd and every other descriptor of its file. */
  describeAs(fd, description) {
    this.#entry(fd, 'fstat').file.description = { ...description };
  }

  /** Writes on fd's socket get EAGAIN, as when the socket buffer is full, until unblockWrites(fd). */
  blockWrites(fd) {
    this.#connectedSocket(fd, 'sendmsg').writesBlocked = true;
  }

  /** Ends blockWrites(fd): an endpoint waiting for writability hears of it on the next turn. */
  unblockWrites(fd) {
    const socket = this.#connectedSocket(fd, 'sendmsg');
    socket.writesBlocked = false;
    socket.endpoint?.scheduleWritable();
  }

  /** The next write on fd's socket fails with `code` (an errno name: 'ENOBUFS', 'ETOOMANYREFS'…), nothing sent. */
  failNextWrite(fd, code) {
    if (ERRNO[code] === undefined) throw new Error(`fake backend: unknown errno ${code}`);
    this.#connectedSocket(fd, 'sendmsg').failures.push(code);
  }

  /**
   * The next read on fd's socket that carries descriptors (or, with `skip`, the one that many reads with
   * descriptors later) loses them, as with MSG_CTRUNC: the copies in flight are dropped and the read is
   * marked truncated.
   */
  truncateNextRead(fd, skip = 0) {
    const socket = this.#connectedSocket(fd, 'recvmsg');
    socket.truncateAt.add(socket.readsWithFds + 1 + skip);
  }

  /** Every write made on fd's socket so far: { bytes, fds } each. */
  writesOf(fd) {
    return this.#connectedSocket(fd, 'sendmsg').writes.map((write) => ({ ...write }));
  }

  /** The descriptors open in the table, in the order they were opened. */
  openFds() {
    return [...this.#table.keys()];
  }

  isOpen(fd) {
    return this.#table.has(fd);
  }

  /** True when the two descriptors refer to the same open file (as fstat's inode says on a real system). */
  sameFile(a, b) {
    return this.#entry(a, 'fstat').file === this.#entry(b, 'fstat').file;
  }

  /**
   * Closes every endpoint and acceptor without a callback and ignores callbacks already scheduled: a test
   * that failed half-way must not reach the real backend, installed again after it, with fake numbers.
   */
  dispose() {
    this.#disposed = true;
    for (const handle of [...this.#handles]) handle.close();
  }

  // What the endpoints and acceptors use.

  get disposed() {
    return this.#disposed;
  }

  send(socket, bytes, fds) {
    if (socket.failures.length > 0) return -ERRNO[socket.failures.shift()];
    const files = [];
    for (const fd of fds ?? []) {
      const entry = this.#table.get(fd);
      if (entry === undefined) return -ERRNO.EBADF;
      files.push(entry.file);
    }
    if (socket.writesBlocked) return -ERRNO.EAGAIN;
    if (socket.peerGone) return -ERRNO.EPIPE;
    const peer = socket.peer;
    const room = this.#options.bufferSize - peer.queuedBytes;
    if (room <= 0) return -ERRNO.EAGAIN;
    const written = Math.min(bytes.length, room);
    // The copies in flight are the kernel's: they keep their files open whatever the sender closes.
    for (const file of files) file.refs++;
    peer.queue.push({ bytes: Buffer.from(bytes.subarray(0, written)), files: files.length > 0 ? files : null });
    peer.queuedBytes += written;
    socket.writes.push({ bytes: written, fds: files.length });
    peer.endpoint?.scheduleRead();
    return written;
  }

  /** True when a write on `socket` would not get EAGAIN. */
  writable(socket) {
    return !socket.writesBlocked && (socket.peerGone || socket.peer.queuedBytes < this.#options.bufferSize);
  }

  /** One recvmsg: { bytes, files, truncated }, or null when nothing is queued. */
  readOne(socket) {
    if (socket.queue.length === 0) return null;
    const parts = [];
    let length = 0;
    let files = null;
    while (length < this.#options.readChunk && socket.queue.length > 0) {
      const segment = socket.queue[0];
      const take = Math.min(segment.bytes.length, this.#options.readChunk - length);
      parts.push(segment.bytes.subarray(0, take));
      length += take;
      if (segment.files !== null) {
        files = segment.files;
        segment.files = null;
      }
      if (take < segment.bytes.length) {
        segment.bytes = segment.bytes.subarray(take);
        break;
      }
      socket.queue.shift();
      // A read ends with the write whose descriptors it took (unix_stream_read_generic).
      if (files !== null) break;
    }
    socket.queuedBytes -= length;
    socket.peer?.endpoint?.scheduleWritable();
    let truncated = false;
    if (files !== null && socket.truncateAt.delete(++socket.readsWithFds)) {
      for (const file of files) this.#unref(file);
      files = null;
      truncated = true;
    }
    return { bytes: Buffer.concat(parts, length), files, truncated };
  }

  /** Gives a file whose reference is held in flight or in an accept queue a descriptor in the table. */
  installHeld(file) {
    file.refs--;
    return this.#install(file);
  }

  /** The endpoint on `fd` closes: its descriptor goes with it. */
  endpointClosed(endpoint, fd, socket) {
    this.#handles.delete(endpoint);
    this.updateKeepAlive();
    socket.endpoint = null;
    const entry = this.#table.get(fd);
    if (entry === undefined || entry.endpoint !== endpoint) {
      this.violations.push(`endpoint on fd ${fd} closes, but its descriptor was closed by someone else`);
      return;
    }
    this.#table.delete(fd);
    this.#unref(socket);
  }

  acceptorClosed(acceptor, listener) {
    this.#handles.delete(acceptor);
    this.updateKeepAlive();
    if (listener.acceptor === acceptor) listener.acceptor = null;
  }

  updateKeepAlive() {
    const wanted = !this.#disposed && [...this.#handles].some((handle) => handle.isRefed);
    if (wanted && this.#keepAlive === undefined) {
      this.#keepAlive = setInterval(() => {}, 1_000_000_000);
    } else if (!wanted && this.#keepAlive !== undefined) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }

  // The table and the files.

  #connect(a, b) {
    a.peer = b;
    b.peer = a;
  }

  #install(file) {
    const fd = this.#nextFd++;
    file.refs++;
    this.#table.set(fd, { file, endpoint: undefined });
    return fd;
  }

  #entry(fd, syscall) {
    const entry = this.#table.get(fd);
    if (entry === undefined) throw systemError('EBADF', syscall, fd);
    return entry;
  }

  #connectedSocket(fd, syscall) {
    const file = this.#entry(fd, syscall).file;
    if (!(file instanceof FakeSocket)) throw systemError('ENOTSOCK', syscall, fd);
    if (file.peer === null) throw systemError('ENOTCONN', syscall, fd);
    return file;
  }

  #unref(file) {
    file.refs--;
    if (file.refs > 0 || file.released) return;
    file.released = true;
    if (!(file instanceof FakeSocket)) return;
    // What nobody will read goes with the socket, descriptors in flight included.
    const unread = file.queuedBytes > 0;
    const queue = file.queue;
    file.queue = [];
    file.queuedBytes = 0;
    for (const segment of queue) for (const inFlight of segment.files ?? []) this.#unref(inFlight);
    if (file.name !== undefined) {
      this.#names.delete(file.name);
      for (const waiting of file.acceptQueue.splice(0)) this.#unref(waiting);
    }
    const peer = file.peer;
    if (peer !== null && !peer.released) {
      peer.peerGone = true;
      // Closing a socket with bytes unread resets the connection (unix_release_sock).
      if (unread) peer.pendingError = ERRNO.ECONNRESET;
      peer.endpoint?.scheduleRead();
      peer.endpoint?.scheduleWritable();
    }
  }
}

/** The native Endpoint's interface (src/binding/native.ts) on a fake socket; it owns its descriptor. */
class FakeEndpoint {
  isRefed = true;
  #backend;
  #fd;
  #socket;
  #onRead;
  #onWritable;
  #reading = false;
  #wantWritable = false;
  #closed = false;
  #readScheduled = false;
  #writableScheduled = false;

  constructor(backend, fd, socket, onRead, onWritable) {
    this.#backend = backend;
    this.#fd = fd;
    this.#socket = socket;
    this.#onRead = onRead;
    this.#onWritable = onWritable;
  }

  write(data, offset, length, fds) {
    if (this.#closed) return -ERRNO.EBADF;
    if (!Buffer.isBuffer(data) || typeof offset !== 'number' || typeof length !== 'number')
      throw invalidArgument('write(data: Buffer, offset: number, length: number, fds?: Int32Array)');
    if (offset > data.length || length > data.length - offset || length === 0)
      throw invalidArgument('write range must be non-empty and inside the buffer');
    const descriptors = fds instanceof Int32Array ? fds : undefined;
    if (descriptors !== undefined && descriptors.length > this.#backend.maxFdsPerMessage)
      throw invalidArgument('too many descriptors for one sendmsg');
    return this.#backend.send(this.#socket, data.subarray(offset, offset + length), descriptors);
  }

  readStart() {
    this.#reading = true;
    this.scheduleRead();
  }

  readStop() {
    this.#reading = false;
  }

  awaitWritable() {
    this.#wantWritable = true;
    this.scheduleWritable();
  }

  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#reading = false;
    this.#wantWritable = false;
    this.#backend.endpointClosed(this, this.#fd, this.#socket);
  }

  ref() {
    this.isRefed = true;
    this.#backend.updateKeepAlive();
  }

  unref() {
    this.isRefed = false;
    this.#backend.updateKeepAlive();
  }

  /** Something may be readable: deliver a batch on the next turn, as a poll event would. */
  scheduleRead() {
    if (this.#readScheduled || !this.#reading || this.#closed) return;
    this.#readScheduled = true;
    setImmediate(() => {
      this.#readScheduled = false;
      this.#readBatch();
    });
  }

  /** The socket may accept data again: tell a writer that waits for it, on the next turn. */
  scheduleWritable() {
    if (this.#writableScheduled || !this.#wantWritable || this.#closed) return;
    this.#writableScheduled = true;
    setImmediate(() => {
      this.#writableScheduled = false;
      if (this.#backend.disposed || this.#closed || !this.#wantWritable) return;
      if (!this.#backend.writable(this.#socket)) return;
      this.#wantWritable = false;
      this.#onWritable();
    });
  }

  #readBatch() {
    if (this.#backend.disposed || this.#closed || !this.#reading) return;
    const socket = this.#socket;
    const chunks = [];
    const marks = [];
    let size = 0;
    for (let reads = 0; reads < MAX_READS_PER_BATCH && size < MAX_BYTES_PER_BATCH; reads++) {
      const read = this.#backend.readOne(socket);
      if (read === null) break;
      if (read.truncated) marks.push(size, read.bytes.length, 0, 1);
      else if (read.files !== null) {
        const fds = read.files.map((file) => this.#backend.installHeld(file));
        marks.push(size, read.bytes.length, fds.length, 0, ...fds);
      }
      chunks.push(read.bytes);
      size += read.bytes.length;
    }
    let status = 0;
    if (socket.queue.length > 0) {
      this.scheduleRead();
    } else if (socket.peerGone) {
      status = socket.pendingError === 0 ? 1 : -socket.pendingError;
      socket.pendingError = 0;
    }
    if (size === 0 && marks.length === 0 && status === 0) return;
    if (status !== 0) {
      // As the native endpoint: after the end or an error it stops watching; JavaScript decides when to close.
      this.#reading = false;
      this.#wantWritable = false;
    }
    this.#onRead(
      size > 0 ? Buffer.concat(chunks, size) : undefined,
      marks.length > 0 ? Int32Array.from(marks) : undefined,
      status,
    );
  }
}

/** The native Acceptor's interface on a fake listener; it does not own the listener's descriptor. */
class FakeAcceptor {
  isRefed = true;
  #backend;
  #listener;
  #onAccept;
  #watching = false;
  #closed = false;
  #scheduled = false;
  #maxPerTick = MAX_ACCEPTS_PER_BATCH;

  constructor(backend, listener, onAccept) {
    this.#backend = backend;
    this.#listener = listener;
    this.#onAccept = onAccept;
  }

  start(maxPerTick = MAX_ACCEPTS_PER_BATCH) {
    this.#maxPerTick = maxPerTick;
    this.#watching = true;
    this.schedule();
  }

  stop() {
    this.#watching = false;
  }

  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#watching = false;
    this.#backend.acceptorClosed(this, this.#listener);
  }

  ref() {
    this.isRefed = true;
    this.#backend.updateKeepAlive();
  }

  unref() {
    this.isRefed = false;
    this.#backend.updateKeepAlive();
  }

  schedule() {
    if (this.#scheduled || !this.#watching || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#backend.disposed || this.#closed || !this.#watching) return;
      const accepted = this.#listener.acceptQueue.splice(0, this.#maxPerTick);
      if (accepted.length === 0) return;
      if (this.#listener.acceptQueue.length > 0) this.schedule();
      this.#onAccept(Int32Array.from(accepted.map((socket) => this.#backend.installHeld(socket))), 0);
    });
  }
}
