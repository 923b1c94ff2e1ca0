// The one HTTP server every dispatcher benchmark setup runs: HTTP/1.1 200, Content-Length 2, body "ok"
// (Node adds its usual Date / Connection / Keep-Alive headers, the same for every setup), and the "ready"
// line the harness waits for.
import http from 'node:http';

const BODY = Buffer.from('ok');
const HEADERS = { 'Content-Length': '2' };

export function trivialHttpServer() {
  return http.createServer((request, response) => {
    response.writeHead(200, HEADERS);
    response.end(BODY);
  });
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
