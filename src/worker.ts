/**
 * `portunus/worker`: what a worker process of a dispatching master needs, and nothing else: adoptConnections()
 * and proxyHeaderOf(). Importing it loads the layers a worker runs on (binding, channel, transport,
 * bootstrap, dispatch) and not the pool, takeover, mux, control or CLI code a master uses, so a worker starts
 * sooner; every spawn, crash replacement and scale-up from `min: 0` pays that time with a request waiting. The
 * exports are the main entry's own (the same modules), so a program may use both entries.
 * @module
 */
export {
  adoptConnections,
  proxyHeaderOf,
  type WorkerConnections,
  type AdoptConnectionsOptions,
  type WorkerEvents,
} from './dispatch/index.js';
export type { ProxyHeader } from './dispatch/index.js';
export { PortunusError, isSystemError } from './errors.js';
