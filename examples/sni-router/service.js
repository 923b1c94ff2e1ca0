// One service behind the router: an https server with its own certificate (SERVICE_KEY / SERVICE_CERT), fed by
// adoptConnections(). It terminates TLS itself; the router only read the ClientHello to choose it.
import fs from 'node:fs';
import https from 'node:https';
import { adoptConnections, proxyHeaderOf } from '../../dist/index.js';

const name = process.env.SERVICE_NAME;
const server = https.createServer(
  { key: fs.readFileSync(process.env.SERVICE_KEY), cert: fs.readFileSync(process.env.SERVICE_CERT) },
  (request, response) => {
    // With acceptProxyProtocol on the router, the real client is here; otherwise the socket's peer is.
    const client = proxyHeaderOf(request.socket)?.sourceAddress ?? request.socket.remoteAddress;
    response.end(
      `${name} (pid ${process.pid}) answers ${request.url} for ${request.socket.servername}, client ${client}\n`,
    );
  },
);
adoptConnections(server);
