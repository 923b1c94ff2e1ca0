/**
 * Loads the native addon (through node-gyp-build, so prebuilt binaries can ship later) and describes its
 * exports. Only src/binding imports this file.
 * @module
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** What describeSocket reports for one descriptor. */
export interface SocketDescription {
  /** What the descriptor is; `'socket'` for a socket of another family or type. */
  kind:
    | 'tcp'
    | 'udp'
    | 'unix-stream'
    | 'unix-dgram'
    | 'unix-seqpacket'
    | 'socket'
    | 'fifo'
    | 'file'
    | 'character-device'
    | 'named-pipe'
    | 'other';
  /** Address family, for sockets. */
  family?: 'IPv4' | 'IPv6' | 'unix' | 'other';
  /** Socket type, for sockets. */
  type?: 'stream' | 'dgram' | 'seqpacket' | 'other';
  /** True for a socket in the listening state. */
  listening?: boolean;
  /** The accept queue's length limit (listen()'s backlog, capped by somaxconn), for a listening TCP socket on Linux. */
  backlog?: number;
  /** Local IP address (getsockname), for IP sockets. */
  localAddress?: string;
  /** Local port, for IP sockets. */
  localPort?: number;
  /** Local path, for Unix sockets bound to one ('\0name' for an abstract name). */
  localPath?: string;
  /** Peer IP address (getpeername), for connected IP sockets. */
  remoteAddress?: string;
  /** Peer port, for connected IP sockets. */
  remotePort?: number;
  /** Peer path, for Unix sockets connected to a bound one. */
  remotePath?: string;
}

/** Credentials of the process at the other end of a Unix socket, fixed when it connected. */
export interface PeerCredentials {
  /** Process id, or -1 where the platform does not report it. */
  pid: number;
  /** Effective user id of the peer when it connected. */
  uid: number;
  /** Effective group id of the peer when it connected. */
  gid: number;
}

/** The native Endpoint: one non-blocking Unix stream socket on the loop of the calling thread. */
export interface NativeEndpoint {
  write(data: Buffer, offset: number, length: number, fds?: Int32Array): number;
  readStart(): void;
  readStop(): void;
  awaitWritable(): void;
  close(): void;
  ref(): void;
  unref(): void;
  /**
   * Windows only: the process at the other end, for an inherited end of a pipe pair, whose kernel record
   * names the pair's creator (native/win/pipe-endpoint.cc).
   */
  setPeerPid?(pid: number): void;
}

/** Callback receiving a batch of reads; ./read-marks.ts reads `marks`. */
export type EndpointReadCallback = (data: Buffer | undefined, marks: Int32Array | undefined, status: number) => void;

/** The native Acceptor: batched accept4 on a listening socket it does not own. */
export interface NativeAcceptor {
  start(maxPerTick?: number): void;
  stop(): void;
  close(): void;
  ref(): void;
  unref(): void;
}

/** The native ReadableWatcher: says when a socket it does not own has bytes (or an end, or an error) to read. */
export interface NativeReadableWatcher {
  start(): void;
  stop(): void;
  close(): void;
  ref(): void;
  unref(): void;
}

/**
 * Called when the watched socket is readable: `status` 0, or the negative errno of the poll (the watcher has
 * stopped then; a reset connection shows as EBADF, and peek() reports the real error); `ended` once the peer
 * has shut down its sending side.
 */
export type ReadableCallback = (status: number, ended: boolean) => void;

/** Receives accepted descriptors (owned by the callee) and 0 or the negative errno that stopped the batch. */
export type AcceptCallback = (fds: Int32Array | undefined, status: number) => void;

/** A TCP connection's addresses, as the addon's socketAddresses() gives them. */
export type ConnectionAddresses = readonly [
  localAddress: string | undefined,
  localPort: number | undefined,
  remoteAddress: string | undefined,
  remotePort: number | undefined,
];

export interface NativeAddon {
  Acceptor: new (fd: number, onAccept: AcceptCallback) => NativeAcceptor;
  Endpoint: new (fd: number, onRead: EndpointReadCallback, onWritable: () => void) => NativeEndpoint;
  /** Unix only (native/unix/readable-watcher.h): watches a socket it does not own for readability. */
  ReadableWatcher?: new (fd: number, onReadable: ReadableCallback) => NativeReadableWatcher;
  /**
   * Unix only (native/unix/peek.h): copies up to maxBytes of what is queued into `into` (at least that long),
   * leaving it queued; how many bytes, or a negative errno.
   */
  peek?: (fd: number, into: Buffer, maxBytes: number) => number;
  /** Unix only: reads and drops up to `length` queued bytes; how many, or a negative errno. */
  discard?: (fd: number, length: number) => number;
  /** Unix only: SO_RCVLOWAT; 0 or a negative errno. */
  setReceiveLowWater?: (fd: number, bytes: number) => number;
  /**
   * getsockname and getpeername of a TCP connection (native/unix/socket-info.h): [localAddress, localPort,
   * remoteAddress, remotePort], the remote pair undefined once the peer is gone.
   */
  socketAddresses?: (fd: number) => ConnectionAddresses;
  /** Linux only: TCP_DEFER_ACCEPT on a listening socket (native/unix/peek.h). */
  deferAccept?: (fd: number, seconds: number) => number;
  /** On Windows, the two ends of a pipe of one instance (stream only). */
  socketPair(type?: 'stream' | 'seqpacket' | 'dgram'): [number, number];
  dup(fd: number): number;
  close(fd: number): void;
  /** One datagram to a Unix datagram socket by its sun_path bytes (see native/unix/datagram.h); Unix builds only. */
  sendDatagram?: (address: Buffer, data: Buffer) => void;
  setInheritable(fd: number, inheritable: boolean): void;
  peerCredentials(fd: number): PeerCredentials;
  describeSocket(fd: number): SocketDescription;
  /** describeSocket(fd)'s kind, and whether it listens (false for anything but a listening socket). */
  socketKind(fd: number): [kind: SocketDescription['kind'], listening: boolean];
  /** Linux only: a listening socket bound to an abstract name with its exact length (see native/unix/abstract-socket.h). */
  listenAbstract?: (address: Buffer, backlog: number) => number;
  /** Linux only: a socket connected to an abstract name with its exact length; throws EAGAIN, ECONNREFUSED… */
  connectAbstract?: (address: Buffer) => number;
  /** Linux and FreeBSD only: a listening TCP socket in a reuseport group (see native/unix/reuseport-listener.h). */
  listenReusePort?: (address: string, port: number, backlog: number, ipv6Only: boolean) => number;
  /** Linux only: steers a reuseport group's new connections to the given members (a CBPF program). */
  steerReusePort?: (fd: number, members: Int32Array) => void;
  /** Windows only: the Acceptor of a listening TCP socket (Acceptor there serves pipe listeners). */
  TcpAcceptor?: new (fd: number, onAccept: AcceptCallback) => NativeAcceptor;
  /** Windows only: a named pipe listener admitting this user and `sids` (see native/win/pipe-listener.h). */
  listenPipe?: (name: string, sids: readonly string[]) => number;
  /** Windows only: the client end of a named pipe, its owner checked against this user and `sids`. */
  connectPipe?: (name: string, sids: readonly string[]) => number;
  /** Windows only: this process's SOCKET with these addresses, or -1 (native/win/socket-locator.h). */
  locateSocket?: (
    localAddress: string,
    localPort: number,
    remoteAddress: string,
    remotePort: number,
    listening: boolean,
  ) => number;
  /** Windows only: the values of this process's open handles, for tests (native/win/socket-locator.h). */
  openHandles?: () => Int32Array;
  /** sizeof(sockaddr_un.sun_path); absent on Windows. */
  sunPathSize: number;
  maxFdsPerMessage: number;
  /** This platform's ETOOMANYREFS, which os.constants.errno lacks. */
  ETOOMANYREFS: number;
}

const require = createRequire(import.meta.url);
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

let cached: NativeAddon | undefined;

/** The addon, loaded on first use. Throws the loader's error if no build exists for this platform. */
export function nativeAddon(): NativeAddon {
  cached ??= (require('node-gyp-build') as (dir: string) => NativeAddon)(packageRoot);
  return cached;
}
