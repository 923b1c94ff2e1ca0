// The service of the mux benchmark: an https server (key and certificate from BENCH_TLS_KEY / BENCH_TLS_CERT)
// that answers "/" with "ok" and "/big" with BIG_BYTES (default 100 MB) of zeros. Given a port (argv[2]) it
// listens itself (the "direct" setup, and HAProxy's backend); without, it is a worker of the router's pool
// fed by adoptConnections(). Either way it terminates TLS itself.
import fs from 'node:fs';
import https from 'node:https';
import { adoptConnections } from '../../dist/index.js';
import { announceReady } from './trivial-http.js';

const BIG_BYTES = Number(process.env.BIG_BYTES ?? 100 * 1024 * 1024);
const CHUNK = Buffer.alloc(256 * 1024);

const server = https.createServer(
  { key: fs.readFileSync(process.env.BENCH_TLS_KEY), cert: fs.readFileSync(process.env.BENCH_TLS_CERT) },
  (request, response) => {
    if (request.url !== '/big') {
      response.writeHead(200, { 'content-length': '2' });
      response.end('ok');
      return;
    }
    response.writeHead(200, { 'content-length': String(BIG_BYTES) });
    let left = BIG_BYTES;
    const pump = () => {
      while (left > 0) {
        const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
        left -= piece.length;
        if (!response.write(piece)) return void response.once('drain', pump);
      }
      response.end();
    };
    pump();
  },
);

// The session tickets TLS 1.3 sends after the handshake go out in a write of their own: without TCP_NODELAY the
// response waits behind them for the client's delayed ACK (tens of ms on loopback).
server.on('connection', (socket) => socket.setNoDelay(true));

if (process.argv[2] === undefined) adoptConnections(server);
else server.listen({ host: '127.0.0.1', port: Number(process.argv[2]), backlog: 4096 }, () => announceReady([]));
process.on('SIGTERM', () => process.exit(0));
