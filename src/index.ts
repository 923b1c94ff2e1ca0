/**
 * portunus: move listening ports and live connections between processes.
 *
 * This file only assembles the public exports: the calls applications make, and the types they meet. Wire
 * protocol numbers are in `portunus/protocol`, descriptor helpers in `portunus/fd`. Classes that users get
 * from a call and never construct (a Dispatcher from acceptAndDispatch(), a PoolWorker from a pool's events…)
 * are exported as types only.
 * @module
 */
export { PortunusError, isSystemError } from './errors.js';
export type { PortunusErrorCode, SystemError } from './errors.js';
export type { PeerCredentials, SocketDescription } from './binding/index.js';

// Channels.
export { Channel } from './channel/channel.js';
export type { ChannelOptions, ChannelEvents, PeerHello } from './channel/channel.js';
export type { FrameHandler } from './channel/extension.js';
export type { ReceivedMessage } from './channel/received-message.js';
export { channelPair, channelFromFd, socketPairForChild, nodeIpcChannel } from './channel/open.js';
export { connectChannel } from './channel/connect.js';
export type { ConnectChannelOptions } from './channel/connect.js';
export { listenChannel } from './channel/listen.js';
export type { ChannelServer, ListenChannelOptions, ChannelServerEvents, RefusedPeer } from './channel/listen.js';
export type { PeerAllow } from './channel/peer-policy.js';
export { inheritedChannel } from './bootstrap/worker-channel.js';

// Handing sockets over. Through the transport layer's door, which also extends every channel with the
// transport session.
export { distributeTransport, adoptTransport } from './transport/index.js';
export type { DistributeOptions, Handoff, Transport, Adopted, AdoptedSocket, AdoptedServer, AdoptedDgram, AdoptedFd, SocketFields, TransportKind } from './transport/index.js';

// Dispatching connections to workers.
export { acceptAndDispatch } from './dispatch/accept-and-dispatch.js';
export type { Dispatcher, AcceptAndDispatchOptions, DispatchStats, DispatcherCloseOptions, DispatcherEvents, RouteTarget } from './dispatch/accept-and-dispatch.js';
export type { RoutePreview, PreviewOptions } from './dispatch/preview.js';
export type { Strategy, StrategyFunction, ConnectionInfo } from './dispatch/strategies.js';
export type { DispatchWorker, WorkerSet, WorkerSetEvents } from './dispatch/worker-set.js';
export { adoptConnections } from './dispatch/adopt-connections.js';
export type { WorkerConnections, AdoptConnectionsOptions, WorkerEvents } from './dispatch/adopt-connections.js';

// Worker pools.
export { WorkerPool } from './pool/worker-pool.js';
export type { PoolEvents, PoolStats } from './pool/worker-pool.js';
export type { WorkerPoolOptions } from './pool/options.js';
export type { PoolWorker, WorkerState, WorkerExit } from './pool/pool-worker.js';
export { shutdownOnSignals } from './pool/shutdown-on-signals.js';
export type { Closable, ShutdownOptions } from './pool/shutdown-on-signals.js';
