/**
 * The mux layer's door: one port, many services. The routing front (serveRouter()) hands each connection to
 * the pool its HTTP Host/path or TLS server name routes to. The other layers import src/mux through this file only.
 * @module
 */
export { serveRouter, Router, type RouterCounters, type RouterStats, type ServeRouterOptions } from './serve-router.js';
export type { RouterRoute } from './route-table.js';
