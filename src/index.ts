/**
 * portunus: move listening ports and live connections between processes.
 *
 * This file only assembles the public exports; each lives in its own module.
 * @module
 */
export { PortunusError, isSystemError } from './errors.js';
export type { PortunusErrorCode, SystemError } from './errors.js';
export type { PeerCredentials, SocketDescription } from './binding/index.js';
export { Channel } from './channel/channel.js';
export type { ChannelOptions, ChannelEvents, PeerHello } from './channel/channel.js';
export type { FrameHandler } from './channel/extension.js';
export { ReceivedMessage } from './channel/received-message.js';
export { channelPair, channelFromFd, socketPairForChild, nodeIpcChannel } from './channel/open.js';
export { connectChannel } from './channel/connect.js';
export type { ConnectChannelOptions } from './channel/connect.js';
export { listenChannel, ChannelServer } from './channel/listen.js';
export type { ListenChannelOptions, ChannelServerEvents, RefusedPeer } from './channel/listen.js';
export type { PeerAllow } from './channel/peer-policy.js';
export { FrameType, MAX_FDS_PER_FRAME, PROTOCOL_VERSION, HEADER_SIZE } from './channel/frame.js';
export { describeFd, closeFd, dupFd, peerCredentialsOf, maxFdsPerMessage } from './fd.js';
export { distributeTransport, adoptTransport } from './transport/index.js';
export type { DistributeOptions, Handoff, Transport, Adopted, AdoptedSocket, AdoptedServer, AdoptedDgram, AdoptedFd, SocketFields, TransportKind, Envelope } from './transport/index.js';
export { acceptAndDispatch, Dispatcher } from './dispatch/accept-and-dispatch.js';
export type { AcceptAndDispatchOptions, DispatchStats, DispatcherCloseOptions, DispatcherEvents, RouteTarget } from './dispatch/accept-and-dispatch.js';
export type { RoutePreview, PreviewOptions } from './dispatch/preview.js';
export type { Strategy, StrategyFunction, ConnectionInfo } from './dispatch/strategies.js';
export type { DispatchWorker, WorkerSet, WorkerSetEvents } from './dispatch/worker-set.js';
export { adoptConnections, WorkerConnections } from './dispatch/adopt-connections.js';
export type { AdoptConnectionsOptions, WorkerEvents } from './dispatch/adopt-connections.js';
export { inheritedChannel, CHANNEL_FD_ENV } from './bootstrap/worker-channel.js';
export { WorkerPool } from './pool/worker-pool.js';
export type { PoolEvents, PoolStats } from './pool/worker-pool.js';
export type { WorkerPoolOptions } from './pool/options.js';
export { PoolWorker } from './pool/pool-worker.js';
export { shutdownOnSignals } from './pool/shutdown-on-signals.js';
export type { Closable, ShutdownOptions } from './pool/shutdown-on-signals.js';
export type { WorkerState, WorkerExit } from './pool/pool-worker.js';
