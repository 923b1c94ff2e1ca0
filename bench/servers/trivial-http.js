// The one HTTP server every dispatcher benchmark setup runs: HTTP/1.1 200, Content-Length 2, body "ok"
// (Node adds its usual Date / Connection / Keep-Alive headers, the same for every setup), and the "ready"
// line the harness waits for. Each server counts the connections it took; with BENCH_COUNTS_DIR set, SIGUSR2
// writes that count to BENCH_COUNTS_DIR/<pid> (how the harness learns how connections spread over workers).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const BODY = Buffer.from('ok');
const HEADERS = { 'Content-Length': '2' };

export function trivialHttpServer() {
  const server = http.createServer((request, response) => {
    response.writeHead(200, HEADERS);
    response.end(BODY);
  });
  let connections = 0;
  server.on('connection', () => connections++);
  const directory = process.env.BENCH_COUNTS_DIR;
  if (directory !== undefined)
    process.on('SIGUSR2', () => {
      // Written aside, then renamed: the harness never reads a half-written count.
      const file = path.join(directory, String(process.pid));
      fs.writeFileSync(`${file}.tmp`, String(connections));
      fs.renameSync(`${file}.tmp`, file);
    });
  return server;
}

/** The port a setup listens on, from argv[2]. */
export function benchPort() {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error(`usage: node ${process.argv[1]} PORT`);
    process.exit(2);
  }
  return port;
}

/** Tells bench/dispatch.js that the server serves, and which processes to account CPU time to. */
export function announceReady(workerPids) {
  process.stdout.write(`ready ${JSON.stringify({ pid: process.pid, workers: workerPids })}\n`);
}
