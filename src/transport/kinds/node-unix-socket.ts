/**
 * node-unix-socket, the optional peer dependency that gives Node what its core lacks for AF_UNIX
 * SOCK_SEQPACKET sockets (`SeqpacketSocket`). Loaded the first time a seqpacket socket is adopted, never at
 * import, and once per process: portunus works the same without it, and then hands seqpacket sockets over
 * as raw descriptors. Its platform packages are not on every registry mirror, so it is not a dependency.
 * @module
 */
import { createRequire } from 'node:module';

const PACKAGE = 'node-unix-socket';

/**
 * The part of node-unix-socket's `SeqpacketSocket` (0.2.x) that portunus relies on and documents: a
 * connected AF_UNIX SOCK_SEQPACKET socket that keeps message boundaries. It is an EventEmitter; the
 * package's own documentation has the rest.
 */
export interface NodeUnixSeqpacketSocket {
  /** `'data'`: one message, whole, as the peer sent it with one write. */
  on(event: 'data', listener: (message: Buffer) => void): this;
  /** `'end'`: the peer shut its sending side down (or closed); `'close'`: the socket is closed. */
  on(event: 'end' | 'close', listener: () => void): this;
  /** `'error'`: a failed read or write; `'close'` follows. */
  on(event: 'error', listener: (error: Error) => void): this;
  /** Sends `buffer` (or `length` bytes of it from `offset`) as one message; `callback` once the kernel has it. */
  write(buffer: Buffer, offset?: number, length?: number, callback?: () => void): void;
  /** Shuts the sending side down once everything queued is sent (the peer sees its end). */
  end(callback?: () => void): void;
  /** Closes the descriptor at once; nothing more is read or sent. */
  destroy(): void;
  /** Keeps the event loop alive while the socket is open (the default). */
  ref(): void;
  /** Lets the process exit while the socket is open. */
  unref(): void;
}

/** What portunus takes from the package. */
interface NodeUnixSocketModule {
  SeqpacketSocket: new (fd: number) => NodeUnixSeqpacketSocket;
}

/** undefined until the first attempt; null when the package cannot be used in this process. */
let loaded: NodeUnixSocketModule | null | undefined;

/**
 * The package, loaded on first use, or undefined where it cannot be used: not installed (quietly, the
 * documented fallback), or installed but not loadable here, such as without a build for this platform (one
 * process warning, ERR_PORTUNUS_UNSUPPORTED, with the reason).
 */
export function nodeUnixSocket(): NodeUnixSocketModule | undefined {
  if (loaded === undefined) loaded = load();
  return loaded ?? undefined;
}

function load(): NodeUnixSocketModule | null {
  try {
    // Resolved from portunus's own location, as a peer dependency is: next to it in the application's tree.
    const module = createRequire(import.meta.url)(PACKAGE) as Partial<NodeUnixSocketModule>;
    if (typeof module.SeqpacketSocket !== 'function') throw new Error(`${PACKAGE} has no SeqpacketSocket class`);
    return module as NodeUnixSocketModule;
  } catch (error) {
    if (!isThisPackageMissing(error)) {
      process.emitWarning(
        `${PACKAGE} is installed but cannot be loaded (${(error as Error).message}): ` +
          'seqpacket sockets are adopted as raw descriptors',
        { type: 'PortunusWarning', code: 'ERR_PORTUNUS_UNSUPPORTED' },
      );
    }
    return null;
  }
}

/** True when the error says the package itself is not installed (not one of its own imports). */
function isThisPackageMissing(error: unknown): boolean {
  const { code, message } = error as NodeJS.ErrnoException;
  return code === 'MODULE_NOT_FOUND' && typeof message === 'string' && message.includes(`'${PACKAGE}'`);
}
