/**
 * The dispatch layer's door: its public API and the few internal names the pool needs (those are marked
 * internal where they are defined, or are wire details such as the worker frames). The other layers import
 * src/dispatch through this file only.
 * @module
 */
export { acceptAndDispatch, Dispatcher } from './accept-and-dispatch.js';
export type {
  AcceptAndDispatchOptions,
  DispatchStats,
  DispatcherCloseOptions,
  DispatcherEvents,
  RouteAnswer,
  RouteDecision,
  RouteTarget,
} from './accept-and-dispatch.js';
export {
  adoptConnections,
  WorkerConnections,
  type AdoptConnectionsOptions,
  type WorkerEvents,
} from './adopt-connections.js';
export {
  serveListeners,
  ListenerServer,
  type ListenerMode,
  type ListenerServerEvents,
  type ListenerServerCloseOptions,
  type ListenerStats,
  type ServeListenersOptions,
} from './serve-listeners.js';
export { readPreview, type PreviewOptions, type RoutePreview } from './preview.js';
export { proxyHeaderOf, recordProxyHeader } from './proxy-header-of.js';
export { readProxyHeader } from './read-proxy-header.js';
export {
  decodeProxyHeader,
  encodeProxyHeader,
  PROXY_HEADER_MAX_BYTES,
  type DecodedProxyHeader,
  type ProxyAddresses,
  type ProxyHeader,
} from './proxy-protocol.js';
export type { ConnectionInfo, Strategy, StrategyFunction } from './strategies.js';
export { decodeLoad, WorkerFrame } from './worker-protocol.js';
export type { ExistingReusePortGroup } from './reuseport-group.js';
export { isWorkerSet, type DispatchWorker, type WorkerSet, type WorkerSetEvents } from './worker-set.js';
