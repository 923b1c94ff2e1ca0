/**
 * The control layer's door: the control socket of a serving master (listenControl, requestControl, the
 * default socket path) and its metrics in the Prometheus text format (ServeMetrics). The CLI imports
 * src/control through this file only.
 * @module
 */
export {
  ControlServer,
  listenControl,
  type ControlResponse,
  type ControlServerEvents,
  type ControlServerOptions,
  type ControlTarget,
} from './control-server.js';
export { requestControl, type ControlRequestOptions } from './control-client.js';
export { defaultControlPath } from './default-path.js';
export { ServeMetrics, type MetricsSources } from './metrics.js';
export { listenMetrics } from './metrics-server.js';
