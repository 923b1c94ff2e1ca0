/**
 * listenMetrics(): an HTTP endpoint for Prometheus to scrape (`portunus serve --metrics 127.0.0.1:9100`).
 * GET /metrics answers the text format; anything else is 404 (405 for another method). It serves no
 * worker traffic and binds where it is told, loopback being the sensible choice.
 * @module
 */
import http from 'node:http';
import type net from 'node:net';
import { validateInteger, validateString } from '../validate.js';
import type { ServeMetrics } from './metrics.js';

/** The content type of the Prometheus text format, version 0.0.4. */
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Listens on `host`:`port` (0 for any free port) and answers GET /metrics with `metrics.render()`. Resolves
 * with the server once it listens; close it with `server.close()`.
 */
export function listenMetrics(metrics: ServeMetrics, host: string, port: number): Promise<http.Server> {
  validateString(host, 'host', { nonEmpty: true });
  validateInteger(port, 'port', 0, 65535);
  const server = http.createServer((request, response) => {
    const url = (request.url ?? '/').split('?')[0];
    if (url !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
    } else if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    } else {
      response.writeHead(200, { 'content-type': CONTENT_TYPE }).end(request.method === 'HEAD' ? '' : metrics.render());
    }
  });
  // A slow or silent scraper must not hold a socket for ever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port } satisfies net.ListenOptions, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
