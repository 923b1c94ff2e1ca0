/**
 * portunus: move listening ports and live connections between processes.
 *
 * This file only assembles the public exports, from each layer's door (its index.ts): the calls applications
 * make, and the types they meet. Wire protocol numbers are in `portunus/protocol`, descriptor helpers in
 * `portunus/fd`. Classes that users get from a call and never construct (a Dispatcher from
 * acceptAndDispatch(), a PoolWorker from a pool's events…) are exported as types only.
 * @module
 */
export { PortunusError, isSystemError } from './errors.js';
export type { PortunusErrorCode, SystemError } from './errors.js';
export type { PeerCredentials, SocketDescription } from './binding/index.js';

// Channels.
export {
  Channel,
  channelPair,
  channelFromFd,
  socketPairForChild,
  nodeIpcChannel,
  connectChannel,
  listenChannel,
} from './channel/index.js';
export type {
  ChannelOptions,
  ChannelEvents,
  PeerHello,
  FrameHandler,
  ReceivedMessage,
  ConnectChannelOptions,
  ProcessAddress,
  OwnProcessAddress,
  ChannelServer,
  ListenChannelOptions,
  ChannelServerEvents,
  RefusedPeer,
  PeerAllow,
} from './channel/index.js';
export { inheritedChannel } from './bootstrap/index.js';

// Socket activation, both ways (systemd's LISTEN_FDS), and telling systemd how the service is (NOTIFY_SOCKET).
export { listenFds, spawnActivated, notifyServiceManager } from './bootstrap/index.js';
export type {
  ActivatedSocket,
  ActivationListener,
  SpawnActivatedOptions,
  ServiceManagerState,
} from './bootstrap/index.js';

// Handing sockets over. The transport layer's door also extends every channel with the transport session.
export { distributeTransport, adoptTransport } from './transport/index.js';
export type {
  DistributeOptions,
  Handoff,
  Transport,
  Adopted,
  AdoptedSocket,
  AdoptedServer,
  AdoptedDgram,
  AdoptedSeqpacket,
  NodeUnixSeqpacketSocket,
  AdoptedFd,
  HeldTransport,
  SocketFields,
  TransportKind,
} from './transport/index.js';

// Dispatching connections to workers.
export { acceptAndDispatch, adoptConnections, serveListeners, proxyHeaderOf } from './dispatch/index.js';
export type {
  Dispatcher,
  AcceptAndDispatchOptions,
  DispatchStats,
  DispatcherCloseOptions,
  DispatcherEvents,
  RouteTarget,
  RouteDecision,
  RouteAnswer,
  ProxyHeader,
  RoutePreview,
  PreviewOptions,
  Strategy,
  StrategyFunction,
  ConnectionInfo,
  DispatchWorker,
  WorkerSet,
  WorkerSetEvents,
  WorkerConnections,
  AdoptConnectionsOptions,
  WorkerEvents,
  ListenerServer,
  ListenerMode,
  ListenerServerEvents,
  ListenerServerCloseOptions,
  ListenerStats,
  ServeListenersOptions,
  ExistingReusePortGroup,
} from './dispatch/index.js';

// Worker pools.
export { WorkerPool, shutdownOnSignals } from './pool/index.js';
export type {
  PoolEvents,
  PoolStats,
  WorkerPoolOptions,
  PoolWorker,
  WorkerState,
  WorkerExit,
  Closable,
  ShutdownOptions,
} from './pool/index.js';

// One port, many services: the service registry, TCPMUX (RFC 1078) and its client, and routing by HTTP
// Host/path and TLS server name.
export {
  serveRouter,
  ServiceRegistry,
  openServiceRegistry,
  registerService,
  serveTcpmux,
  connectTcpmux,
  listTcpmuxServices,
} from './mux/index.js';
export type {
  Router,
  RouterCounters,
  RouterRoute,
  RouterStats,
  ServeRouterOptions,
  ServiceRegistryOptions,
  ServiceRegistryEvents,
  RegistrationPolicy,
  OpenServiceRegistryOptions,
  Registrant,
  ServiceSet,
  ServiceRegistration,
  ServiceRegistrationEvents,
  RegisterServiceOptions,
  ServiceHandler,
  TcpmuxHandoffMetadata,
  TcpmuxServer,
  TcpmuxServerOptions,
  TcpmuxServerEvents,
  TcpmuxStats,
  TcpmuxClientOptions,
} from './mux/index.js';

// The control socket and metrics of a serving master (what `portunus serve` runs; docs/control.md).
export { listenControl, requestControl, ServeMetrics, listenMetrics } from './control/index.js';
export type {
  ControlServer,
  ControlServerEvents,
  ControlServerOptions,
  ControlTarget,
  ControlResponse,
  ControlRequestOptions,
  MetricsSources,
} from './control/index.js';

// Handing every listener to the next version of the process (takeover).
export { offerListeners, takeListeners } from './takeover/index.js';
export type {
  OfferListenersOptions,
  Successor,
  TakeoverServer,
  TakeoverServerEvents,
  TakeoverState,
  TakeListenersOptions,
  TakenListeners,
  TakenListener,
  TakeoverListener,
  TakeoverListenerKind,
} from './takeover/index.js';
