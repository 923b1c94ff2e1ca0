/**
 * The channel layer's door: its public API and the few internal names the layers above need (those are
 * marked internal where they are defined). The other layers import src/channel through this file only.
 * @module
 */
export { Channel, extendEveryChannel, resolveChannelOptions } from './channel.js';
export type { ChannelEvents, ChannelOptions, PeerHello } from './channel.js';
export type { ChannelExtensionPort, FrameHandler } from './extension.js';
export { connectChannel, type ConnectChannelOptions } from './connect.js';
export type { OwnProcessAddress, ProcessAddress } from './process-address.js';
export {
  ChannelServer,
  listenChannel,
  type ChannelServerEvents,
  type ListenChannelOptions,
  type RefusedPeer,
} from './listen.js';
export { channelFromFd, channelPair, nodeIpcChannel, socketPairForChild } from './open.js';
export type { IpcEndpoint } from './node-ipc-link.js';
export { peerPolicy, type PeerAllow } from './peer-policy.js';
export { ensurePrivateDirectory, removeStaleSocket, restrictSocketFile } from './secure-path.js';
export { checkSocketAddress } from './socket-address.js';
export { ReceivedMessage } from './received-message.js';
export { FrameType, HEADER_SIZE, MAX_FDS_PER_FRAME, PROTOCOL_VERSION } from './frame.js';
export { releaseAttachment, type Attachment, type NodeHandle } from './link.js';
