/**
 * The `unix` backend: the native addon's SCM_RIGHTS endpoint and descriptor operations (Linux, macOS, BSD).
 * @module
 */
import { PortunusError } from '../errors.js';
import { nativeAddon } from './native.js';
import type { FdBackend, PeekSupport } from './backend.js';

function noAbstractNames(): never {
  throw new PortunusError(
    'ERR_PORTUNUS_UNSUPPORTED',
    `abstract socket names ('\\0name') exist on Linux only, not on ${process.platform}`,
    {
      platform: process.platform,
    },
  );
}

function noReusePort(): never {
  throw new PortunusError(
    'ERR_PORTUNUS_UNSUPPORTED',
    `listener mode 'reuseport' needs SO_REUSEPORT groups the kernel balances (Linux, FreeBSD), not on ${process.platform}; use mode 'shared'`,
    { platform: process.platform },
  );
}

export function unixBackend(): FdBackend {
  const addon = nativeAddon();
  // The addon exports the abstract-name calls only where it was built for Linux.
  const { listenAbstract, connectAbstract } = addon;
  // And the reuseport calls only where the kernel balances a group (steering: Linux only).
  const { listenReusePort, steerReusePort } = addon;
  return {
    name: 'unix',
    maxFdsPerMessage: addon.maxFdsPerMessage,
    tooManyRefsErrno: addon.ETOOMANYREFS,
    sunPathSize: addon.sunPathSize,
    listenAbstract: (address, backlog) => (listenAbstract ?? noAbstractNames)(address, backlog),
    connectAbstract: (address) => (connectAbstract ?? noAbstractNames)(address),
    reusePort: listenReusePort !== undefined,
    listenReusePort: (address, port, backlog, ipv6Only) =>
      (listenReusePort ?? noReusePort)(address, port, backlog, ipv6Only),
    steerReusePort: (fd, members) => {
      if (steerReusePort === undefined) return false;
      steerReusePort(fd, Int32Array.from(members));
      return true;
    },
    socketPair: (type) => addon.socketPair(type),
    dup: (fd) => addon.dup(fd),
    sendDatagram: (address, data) => addon.sendDatagram!(address, data),
    close: (fd) => addon.close(fd),
    setInheritable: (fd, inheritable) => addon.setInheritable(fd, inheritable),
    peerCredentials: (fd) => addon.peerCredentials(fd),
    describeSocket: (fd) => addon.describeSocket(fd),
    socketKind: (fd) => {
      const pair = addon.socketKind(fd);
      return { kind: pair[0], listening: pair[1] };
    },
    createEndpoint: (fd, onRead, onWritable) => new addon.Endpoint(fd, onRead, onWritable),
    createAcceptor: (fd, onAccept) => new addon.Acceptor(fd, onAccept),
    peeking: peekSupport(addon),
  };
}

/** What native peek() accepts at most (native/unix/peek.cc): the scratch Buffer never grows past it. */
const MAX_PEEK_BYTES = 1 << 20;

/** The addon's peek calls, present in every build for Unix (native/unix/peek.h, readable-watcher.h). */
function peekSupport(addon: ReturnType<typeof nativeAddon>): PeekSupport | undefined {
  const { peek, discard, setReceiveLowWater, socketAddresses, ReadableWatcher } = addon;
  if (
    peek === undefined ||
    discard === undefined ||
    setReceiveLowWater === undefined ||
    socketAddresses === undefined ||
    ReadableWatcher === undefined
  )
    return undefined;
  // Peeks land here and only what arrived is copied out, into a Buffer from Node's pool: cheaper than a Buffer
  // of its own per peek, made natively (a preview is a few hundred bytes of a bound of several KiB).
  let scratch = Buffer.allocUnsafeSlow(0);
  return {
    peek(fd, maxBytes) {
      if (scratch.length < maxBytes && maxBytes <= MAX_PEEK_BYTES) scratch = Buffer.allocUnsafeSlow(maxBytes);
      const length = peek(fd, scratch, maxBytes);
      if (length < 0) return length;
      const bytes = Buffer.allocUnsafe(length);
      scratch.copy(bytes, 0, 0, length);
      return bytes;
    },
    discard,
    setReceiveLowWater,
    addresses: socketAddresses,
    ...(addon.deferAccept === undefined ? {} : { deferAccept: addon.deferAccept }),
    watchReadable: (fd, onReadable) => new ReadableWatcher(fd, onReadable),
  };
}
