/**
 * The platform interface every layer above uses for descriptor work. One implementation is chosen at load
 * time in ./index.ts; nothing outside src/binding checks `process.platform`.
 * @module
 */
import type {
  AcceptCallback,
  ConnectionAddresses,
  EndpointReadCallback,
  NativeAcceptor,
  NativeEndpoint,
  NativeReadableWatcher,
  PeerCredentials,
  ReadableCallback,
  SocketDescription,
} from './native.js';

export type {
  AcceptCallback,
  EndpointReadCallback,
  NativeAcceptor,
  NativeEndpoint,
  NativeReadableWatcher,
  PeerCredentials,
  ReadableCallback,
  SocketDescription,
};

/** What `socketKind()` reports: the part of a SocketDescription that says what the descriptor is. */
export type SocketKind = Pick<SocketDescription, 'kind' | 'listening'>;

/**
 * Named pipes as channel addresses (the windows backend): where a backend has them, `listenChannel()` and
 * `connectChannel()` take a pipe name (`\\.\pipe\…`) and leave it to the backend, as they leave abstract
 * names to the unix one.
 */
export interface PipeSupport {
  /** True for an address this backend listens on and connects to itself (`\\.\pipe\…`). */
  isPipeName(address: string): boolean;
  /**
   * Claims the pipe name with a security descriptor that admits this user and the SIDs in `sids`, nobody
   * else; returns the listener's handle, for createAcceptor() and close(). Throws EADDRINUSE when the name
   * is served already, or the SystemError of the pipe call.
   */
  listen(name: string, sids: readonly string[]): number;
  /**
   * Opens the client end of the pipe without waiting (EAGAIN when every instance is busy, ENOENT when
   * nobody listens) and refuses (ERR_PORTUNUS_PEER_REFUSED) a pipe owned by anyone but this user or one of
   * `sids`. Returns the connected handle.
   */
  connect(name: string, sids: readonly string[]): number;
  /**
   * The pipe name a process with this pid listens on when asked to listen by its pid (`\\.\pipe\portunus-pid-<pid>`,
   * docs/windows.md): the naming convention of `listenChannel({ pid: 'self' })` and `connectChannel({ pid })`.
   */
  nameForPid(pid: number): string;
}

/**
 * Looking at a connected socket's queued bytes without reading them (the dispatcher's route() preview, which
 * leaves a connection's first bytes in the kernel for the process that adopts it). Where a backend lacks it
 * (windows: the native Windows build has no peek), the dispatcher reads through a net.Socket instead.
 */
export interface PeekSupport {
  /**
   * Up to `maxBytes` of the bytes queued on `fd`, which stay queued (an empty Buffer at end of stream), or
   * a negative errno: EAGAIN while nothing is queued, ECONNRESET and the like. Never waits.
   */
  peek(fd: number, maxBytes: number): Buffer | number;
  /** Reads and drops up to `length` queued bytes, never waiting; returns how many, or a negative errno. */
  discard(fd: number, length: number): number;
  /**
   * Sets SO_RCVLOWAT: a readable poll then waits for that many bytes (or an end, or an error). 0 or a
   * negative errno. Only TCP sockets honour it (not Unix ones, whose poll ignores it).
   */
  setReceiveLowWater(fd: number, bytes: number): number;
  /**
   * The TCP connection's local and peer addresses (the peer pair undefined once it is gone), with two system
   * calls where describeSocket() takes six: for a connection whose kind is known. A tuple, as the addon makes
   * it: this runs for every routed connection, and the caller takes the four values apart at no cost. Throws
   * the SystemError of getsockname or getpeername.
   */
  addresses(fd: number): ConnectionAddresses;
  /**
   * Sets TCP_DEFER_ACCEPT on a listening TCP socket: the kernel completes an accept only once the connection's
   * first bytes have arrived, or after `seconds` for a client that sends nothing. 0 or a negative errno.
   * Linux only: absent elsewhere.
   */
  deferAccept?(fd: number, seconds: number): number;
  /**
   * Watches `fd` (not owned) for readability, level-triggered, once started. close() takes it out of the
   * loop's poll set, so that the descriptor can then leave the process.
   */
  watchReadable(fd: number, onReadable: ReadableCallback): NativeReadableWatcher;
}

/** A socket described by its addresses, for FdBackend.locateSocket(). */
export interface SocketAddresses {
  localAddress: string;
  localPort: number;
  /** For a connection; undefined for a listener. */
  remoteAddress?: string;
  remotePort?: number;
}

export interface FdBackend {
  /** Name shown in errors and diagnostics ('unix', 'windows', 'unsupported'). */
  readonly name: string;
  /** Most descriptors one message of the underlying syscall can carry. */
  readonly maxFdsPerMessage: number;
  /**
   * The errno sendmsg returns when the sending user has too many descriptors in flight (ETOOMANYREFS):
   * missing from os.constants.errno, different between platforms. 0 where it does not apply.
   */
  readonly tooManyRefsErrno: number;
  /**
   * Bytes in sockaddr_un's sun_path (108 on Linux, 104 on macOS and the BSDs): a socket path may take all
   * but its terminating NUL, an abstract name all of them. 0 where there are no Unix sockets.
   */
  readonly sunPathSize: number;
  /**
   * Binds a listening, close-on-exec, non-blocking Unix stream socket to an abstract name, given as the
   * bytes of sun_path (a leading NUL, then the name), with exactly that length; returns its descriptor.
   * Throws ERR_PORTUNUS_UNSUPPORTED where abstract names do not exist, or the SystemError of socket, bind
   * or listen.
   */
  listenAbstract(address: Buffer, backlog: number): number;
  /**
   * Connects a close-on-exec, non-blocking Unix stream socket to an abstract name (as for listenAbstract)
   * without waiting: the connection is made at once or the SystemError of connect is thrown (EAGAIN when the
   * listener's accept queue is full, ECONNREFUSED when nobody listens). Returns the descriptor.
   */
  connectAbstract(address: Buffer): number;
  /** True where listenReusePort() exists: SO_REUSEPORT groups that the kernel balances (Linux, FreeBSD). */
  readonly reusePort: boolean;
  /**
   * Opens a listening, close-on-exec, non-blocking TCP socket with SO_REUSEADDR and the platform's reuseport
   * option (SO_REUSEPORT on Linux, SO_REUSEPORT_LB on FreeBSD) on a numeric IPv4 or IPv6 `address`, so that
   * sockets opened the same way on the same address and port form one group the kernel spreads connections
   * over. Returns its descriptor. Throws ERR_PORTUNUS_UNSUPPORTED where `reusePort` is false, or the
   * SystemError of socket, setsockopt, bind or listen.
   */
  listenReusePort(address: string, port: number, backlog: number, ipv6Only: boolean): number;
  /**
   * Sends the group's new connections only to `members` (indices in the group, in the order its sockets
   * started listening), at random; an empty list restores the kernel's own choice. `fd` is any member of
   * the group. Returns false, doing nothing, where the platform cannot steer (only Linux can).
   */
  steerReusePort(fd: number, members: readonly number[]): boolean;
  socketPair(type?: 'stream' | 'seqpacket' | 'dgram'): [number, number];
  /** Duplicates fd; the copy has close-on-exec set. */
  dup(fd: number): number;
  close(fd: number): void;
  setInheritable(fd: number, inheritable: boolean): void;
  peerCredentials(fd: number): PeerCredentials;
  describeSocket(fd: number): SocketDescription;
  /** describeSocket's kind and listening flag only: no addresses, a fraction of the cost. */
  socketKind(fd: number): SocketKind;
  /**
   * Sends one datagram to the Unix datagram socket at `address` (its sun_path bytes: a path, or a NUL and an
   * abstract name) from a socket opened for it and closed again, without waiting (EAGAIN when its queue is
   * full). Throws the SystemError of socket or sendto. Absent where there are no Unix datagram sockets.
   */
  sendDatagram?(address: Buffer, data: Buffer): void;
  /** Wraps a connected Unix stream socket; the endpoint owns fd from then on. */
  createEndpoint(fd: number, onRead: EndpointReadCallback, onWritable: () => void): NativeEndpoint;
  /** Watches a listening socket (not owned) and hands over accepted descriptors in batches. */
  createAcceptor(fd: number, onAccept: AcceptCallback): NativeAcceptor;
  /**
   * True where a spawned child gets a descriptor by inheriting it under the same value rather than through
   * spawn()'s `stdio` (windows: libuv creates processes inheriting every inheritable handle, and `stdio`
   * numbers are C runtime descriptors, not HANDLEs). See socketPairForChild().
   */
  readonly childInheritsHandles?: boolean;
  /** Named pipes as channel addresses, where the platform has them (windows). */
  readonly pipes?: PipeSupport;
  /** Peeking at connections, where the platform has it (unix); absent, the dispatcher reads to route. */
  readonly peeking?: PeekSupport;
  /**
   * Where Node does not expose the descriptor under its socket objects (Windows: a handle's `fd` is -1),
   * finds this process's socket with these addresses; -1 if there is none. The socket stays its owner's.
   */
  locateSocket?(addresses: SocketAddresses): number;
}
