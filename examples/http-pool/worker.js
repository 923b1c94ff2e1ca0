// A worker of the http-pool example: a plain http.Server that never listens. Its connections come from the
// master through adoptConnections().
import http from 'node:http';
import { adoptConnections } from '../../dist/worker.js';

const server = http.createServer((request, response) => {
  response.setHeader('content-type', 'text/plain');
  response.end(
    `hello from worker ${process.env.PORTUNUS_WORKER_ID} (pid ${process.pid}): ${request.method} ${request.url}\n`,
  );
});

adoptConnections(server);
