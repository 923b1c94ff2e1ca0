/**
 * The ways to get a channel on an existing descriptor: `channelPair()` for a parent and the child it spawns
 * (or two halves in one process), and `channelFromFd()` for a descriptor a process inherited.
 * @module
 */
import { ChildProcess } from 'node:child_process';
import { fdBackend } from '../binding/index.js';
import { invalidArgument } from '../errors.js';
import { validateFd } from '../validate.js';
import { Channel, resolveChannelOptions, type ChannelOptions } from './channel.js';
import { EndpointLink } from './endpoint-link.js';
import { NodeIpcLink, type IpcEndpoint } from './node-ipc-link.js';

/**
 * Opens a channel on `fd`, a connected Unix stream socket. The channel owns `fd` from then on and closes
 * it when it closes; the descriptor is made close-on-exec so it does not leak into programs this process
 * spawns later. Any other kind of descriptor is refused (ERR_INVALID_ARG_VALUE) and left open.
 */
export function channelFromFd(fd: number, options?: ChannelOptions): Channel {
  return channelAndLink(fd, options).channel;
}

/** channelFromFd(), also returning the link once the channel has made it (socketPairForChild() needs it). */
function channelAndLink(fd: number, options?: ChannelOptions): { channel: Channel; link: () => EndpointLink } {
  validateFd(fd);
  const resolved = resolveChannelOptions(options);
  const { kind, listening } = fdBackend.socketKind(fd);
  // A named pipe connection (windows backend) is the byte stream a Unix stream socket is there.
  if ((kind !== 'unix-stream' && kind !== 'named-pipe') || listening) {
    // A seqpacket or datagram socket cuts the stream at message boundaries: a frame larger than one read
    // would lose its tail (MSG_TRUNC) and the channel would wait for it forever. A listener carries nothing.
    // The kind is named the way describeFd() names it.
    throw invalidArgument(
      'fd',
      `a connected Unix stream socket, not a ${listening ? 'listening ' : ''}'${kind}' descriptor`,
      fd,
      'value',
    );
  }
  fdBackend.setInheritable(fd, false);
  let link: EndpointLink | undefined;
  const channel = new Channel((handlers, linkOptions) => {
    link = new EndpointLink(fd, handlers, {
      maxPayload: linkOptions.maxPayloadBytes,
      highWaterMark: linkOptions.highWaterMark,
    });
    return link;
  }, resolved);
  return { channel, link: () => link! };
}

/**
 * Creates both ends of a channel over a socketpair(2). Each channel owns its descriptor. To give one end to
 * a child process, use `socketPairForChild()` instead.
 */
export function channelPair(options?: ChannelOptions): [Channel, Channel] {
  resolveChannelOptions(options);
  const [a, b] = fdBackend.socketPair('stream');
  let first: Channel;
  try {
    first = channelFromFd(a, options);
  } catch (error) {
    fdBackend.close(a);
    fdBackend.close(b);
    throw error;
  }
  try {
    return [first, channelFromFd(b, options)];
  } catch (error) {
    first.destroy();
    fdBackend.close(b);
    throw error;
  }
}

/**
 * Creates a socketpair for talking to a child process: returns this process's channel and the raw
 * descriptor of the child's end. Spawn the child with `childStdio` appended to spawn()'s `stdio` and
 * PORTUNUS_CHANNEL_FD set to `childEnv` (on Unix, descriptor 3 and '3'; on Windows, where the child
 * inherits the pipe handle under its own value, nothing in `stdio` and the handle's value), then call
 * `closeChildFd(child.pid)`: the caller owns `childFd` until then.
 */
export function socketPairForChild(options?: ChannelOptions): {
  /** This process's end, already a channel. */
  channel: Channel;
  /** The child's end, a raw descriptor owned by the caller: pass it in spawn()'s `stdio` (close-on-exec here; spawn dup2s it). */
  childFd: number;
  /**
   * Closes this process's copy of `childFd`; call it once the child is spawned, with the child's pid where
   * known (Windows duplicates sockets for that process: the pipe's own record names this one). Idempotent.
   */
  closeChildFd: (childPid?: number) => void;
  /** What to append to spawn()'s `stdio` after stdin, stdout and stderr: `[childFd]`, or nothing on Windows. */
  childStdio: number[];
  /** The child's PORTUNUS_CHANNEL_FD: '3', or on Windows the inherited handle's value. */
  childEnv: string;
} {
  resolveChannelOptions(options);
  const [mine, theirs] = fdBackend.socketPair('stream');
  const inherited = fdBackend.childInheritsHandles === true;
  let opened: ReturnType<typeof channelAndLink>;
  try {
    opened = channelAndLink(mine, options);
  } catch (error) {
    fdBackend.close(mine);
    fdBackend.close(theirs);
    throw error;
  }
  try {
    // Inheritable only until closeChildFd(): the spawn in between gives the child its copy.
    if (inherited) fdBackend.setInheritable(theirs, true);
  } catch (error) {
    opened.channel.destroy();
    fdBackend.close(theirs);
    throw error;
  }
  let open = true;
  return {
    channel: opened.channel,
    childFd: theirs,
    closeChildFd: (childPid) => {
      if (open) fdBackend.close(theirs);
      open = false;
      if (childPid !== undefined && inherited) opened.link().setPeerPid(childPid);
    },
    childStdio: inherited ? [] : [theirs],
    childEnv: inherited ? String(theirs) : '3',
  };
}

/**
 * Opens a channel over Node's own IPC: pass the ChildProcess returned by `fork()` in the parent, and
 * `process` in the child. This is the portable backend (it works wherever Node's IPC does, Windows
 * included) for parent and child only; it carries TCP sockets, TCP servers and UDP sockets, not raw
 * descriptors. Closing the channel disconnects the IPC channel.
 */
export function nodeIpcChannel(endpoint: IpcEndpoint, options?: ChannelOptions): Channel {
  if (!(endpoint instanceof ChildProcess) && endpoint !== process)
    throw invalidArgument('endpoint', 'a ChildProcess from fork(), or process', endpoint);
  const resolved = resolveChannelOptions(options);
  return new Channel(
    (handlers, linkOptions) => new NodeIpcLink(endpoint, handlers, linkOptions.maxPayloadBytes),
    resolved,
  );
}
