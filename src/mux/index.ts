/**
 * The mux layer's door: one port, many services. A service registry that processes join over a
 * credential-checked channel (each name a WorkerSet the dispatcher can route to), a TCPMUX server
 * (RFC 1078) that hands each connection to the service it names, and the client side; and the routing front
 * (serveRouter()), which hands each connection to the pool its HTTP Host/path or TLS server name routes to. The other layers, and
 * src/index.ts, import src/mux through this file only.
 * @module
 */
export { connectTcpmux, listTcpmuxServices, type TcpmuxClientOptions } from './connect-tcpmux.js';
export { MuxFrame } from './frames.js';
export { openServiceRegistry, type OpenServiceRegistryOptions } from './open-service-registry.js';
export {
  registerService,
  ServiceRegistration,
  type RegisterServiceOptions,
  type ServiceHandler,
  type ServiceRegistrationEvents,
  type TcpmuxHandoffMetadata,
} from './register-service.js';
export { MAX_SERVICE_NAME_LENGTH } from './service-name.js';
export {
  Registrant,
  ServiceRegistry,
  ServiceSet,
  type RegistrationPolicy,
  type ServiceRegistryEvents,
  type ServiceRegistryOptions,
} from './service-registry.js';
export {
  serveTcpmux,
  TcpmuxServer,
  type TcpmuxServerEvents,
  type TcpmuxServerOptions,
  type TcpmuxStats,
} from './tcpmux-server.js';
export { serveRouter, Router, type RouterCounters, type RouterStats, type ServeRouterOptions } from './serve-router.js';
export type { RouterRoute } from './route-table.js';
