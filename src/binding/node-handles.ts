/**
 * Every place portunus reaches into Node's objects, in one file: the descriptor under a net.Socket,
 * net.Server or dgram.Socket, stopping a socket's reads so that bytes Node already buffered can travel
 * with it, and building a socket on a descriptor already known to be TCP. These fields are not public API;
 * the test suite runs on Node 20, 22 and 24 to catch changes. Knowing them is platform knowledge, as the
 * addon is, so this file belongs to the binding layer; the channel, transport and dispatch layers reach it
 * through ./index.ts.
 * @module
 */
import type dgram from 'node:dgram';
import net from 'node:net';
import { PortunusError } from '../errors.js';
import { fdBackend, hasUnixDescriptorPassing } from './index.js';

interface StreamHandle {
  fd?: number;
  reading?: boolean;
  readStop?: () => number;
  readStart?: () => number;
}

function handleOf(object: net.Socket | net.Server): StreamHandle | undefined {
  return (object as unknown as { _handle?: StreamHandle | null })._handle ?? undefined;
}

function dgramHandleOf(socket: dgram.Socket): StreamHandle | undefined {
  for (const symbol of Object.getOwnPropertySymbols(socket)) {
    const state = (socket as unknown as Record<symbol, { handle?: StreamHandle } | undefined>)[symbol];
    if (state !== undefined && typeof state === 'object' && state.handle !== undefined)
      return state.handle ?? undefined;
  }
  return undefined;
}

function noDescriptor(what: string): never {
  throw new PortunusError(
    'ERR_PORTUNUS_UNSUPPORTED',
    `${what} has no file descriptor (closed, not yet connected or bound, or not on this platform)`,
  );
}

/** The descriptor of a connected net.Socket; it stays owned by the socket. */
export function socketFd(socket: net.Socket): number {
  const fd = handleOf(socket)?.fd;
  if (typeof fd === 'number' && fd >= 0) return fd;
  // Windows: Node keeps the SOCKET to itself unless it opened the handle on one; find it by its addresses.
  const { localAddress, localPort, remoteAddress, remotePort } = socket;
  if (fdBackend.locateSocket !== undefined && handleOf(socket) !== undefined && remoteAddress !== undefined) {
    const located = fdBackend.locateSocket({
      localAddress: localAddress!,
      localPort: localPort!,
      remoteAddress,
      remotePort: remotePort!,
    });
    if (located >= 0) return located;
  }
  return noDescriptor('the socket');
}

/** The descriptor of a listening net.Server; it stays owned by the server. */
export function serverFd(server: net.Server): number {
  const fd = handleOf(server)?.fd;
  if (typeof fd === 'number' && fd >= 0) return fd;
  const address = server.address();
  if (fdBackend.locateSocket !== undefined && typeof address === 'object' && address !== null) {
    const located = fdBackend.locateSocket({ localAddress: address.address, localPort: address.port });
    if (located >= 0) return located;
  }
  return noDescriptor('the server');
}

/** The descriptor of a bound dgram.Socket; it stays owned by the socket. */
export function dgramFd(socket: dgram.Socket): number {
  const fd = dgramHandleOf(socket)?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : noDescriptor('the UDP socket');
}

/** Bytes taken out of a socket's read buffer, and how to put the socket back as it was. */
export interface DetachedReads {
  buffered: Buffer | undefined;
  /** Puts the bytes back in front of the stream and resumes reading as before. */
  restore(): void;
}

/**
 * Stops the kernel reads of a socket (so no byte is consumed by this process any more) and takes the bytes
 * Node has read but nobody consumed yet. A socket accepted with `pauseOnConnect` never started reading, so
 * this costs nothing there: that is the fast path.
 */
export function detachReads(socket: net.Socket): DetachedReads {
  const handle = handleOf(socket);
  const wasReading = handle?.reading === true;
  if (handle !== undefined && wasReading) {
    handle.readStop?.();
  }
  let buffered: Buffer | undefined;
  if (socket.readableLength > 0) {
    if (socket.readableEncoding !== null) {
      throw new PortunusError(
        'ERR_PORTUNUS_UNSUPPORTED',
        'cannot hand off a socket with a string encoding set (setEncoding): its buffered bytes are no longer bytes',
      );
    }
    // read() would start the handle reading again when the buffer runs low; claim it is reading meanwhile.
    if (handle !== undefined) handle.reading = true;
    const chunks: Buffer[] = [];
    for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null)
      chunks.push(chunk);
    buffered = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  }
  if (handle !== undefined) handle.reading = false;
  return {
    buffered,
    restore() {
      if (buffered !== undefined && buffered.length > 0) socket.unshift(buffered);
      if (wasReading && handle !== undefined && !socket.destroyed) {
        handle.reading = true;
        handle.readStart?.();
      }
    },
  };
}

interface TcpHandle {
  open(fd: number): number;
  close(): void;
}

interface TcpWrapBinding {
  TCP: new (type: number) => TcpHandle;
  constants: { SOCKET: number; SERVER: number };
}

let tcpWrap: TcpWrapBinding | null | undefined;

/**
 * Node's own TCP handle class, the one `net` wraps, or null where it cannot be had quietly. process.binding
 * is deprecated (DEP0111, documentation-only): under --pending-deprecation it would warn, so it is not used.
 */
function tcpWrapBinding(): TcpWrapBinding | null {
  if (tcpWrap !== undefined) return tcpWrap;
  tcpWrap = null;
  const pending =
    process.execArgv.includes('--pending-deprecation') ||
    /--pending-deprecation/.test(process.env.NODE_OPTIONS ?? '') ||
    process.env.NODE_PENDING_DEPRECATION === '1';
  const binding = (process as unknown as { binding?: (name: string) => unknown }).binding;
  if (pending || typeof binding !== 'function') return tcpWrap;
  try {
    const candidate = binding.call(process, 'tcp_wrap') as Partial<TcpWrapBinding> | undefined;
    if (typeof candidate?.TCP === 'function' && typeof candidate.constants?.SOCKET === 'number')
      tcpWrap = candidate as TcpWrapBinding;
  } catch {
    // Not available in this Node (or forbidden by policy): `new net.Socket({ fd })` it is.
  }
  return tcpWrap;
}

/**
 * A net.Socket on a connected TCP descriptor the caller has already checked (socketKind). Takes ownership
 * of fd once it returns. `new net.Socket({ fd })` would ask the kernel again what fd is (isatty, fstat,
 * getsockname, getsockopt: four system calls per adopted connection); opening Node's TCP handle on it
 * directly skips that, and falls back to `{ fd }` wherever the handle class is not reachable.
 */
export function tcpSocketFromFd(fd: number): net.Socket {
  const binding = tcpWrapBinding();
  if (binding !== null) {
    const handle = new binding.TCP(binding.constants.SOCKET);
    if (handle.open(fd) === 0)
      return new net.Socket({ handle, readable: true, writable: true } as net.SocketConstructorOpts);
    // The handle did not take fd (it stays ours): let the general path try, and report, as before.
    handle.close();
  }
  return new net.Socket({ fd, readable: true, writable: true });
}

/**
 * What `server.listen()` takes to listen on a listening TCP descriptor: `{ fd }` where Node opens
 * descriptors by number; on Windows, where `{ fd }` means a C runtime descriptor and not a SOCKET, Node's
 * TCP handle opened on the SOCKET (libuv's uv_tcp_open takes one), as the cluster module hands servers
 * over. Takes ownership of fd once the server listens on what this returns.
 */
export function listenTarget(fd: number): { fd: number } | object {
  if (hasUnixDescriptorPassing) return { fd };
  const binding = tcpWrapBinding();
  if (binding === null) return { fd };
  const handle = new binding.TCP(binding.constants.SERVER);
  if (handle.open(fd) === 0) return handle;
  handle.close();
  return { fd };
}
