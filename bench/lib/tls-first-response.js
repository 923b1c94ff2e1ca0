// Latency of a fresh TLS connection's first response, as a client process of its own (so that its CPU is
// not the driver's): COUNT strictly sequential connections to 127.0.0.1:PORT with server name SNI, TLS 1.3,
// no session resumption, each one handshake, one "Connection: close" request and the full response (the
// clock stops there). A Node client: it adds its own handshake cost, the same for every setup.
//
//   node tls-first-response.js PORT SNI COUNT WARMUP CA_FILE [PATH]
//
// Prints one JSON line: { n, errors, p50_us, p99_us, mean_us, bytes }.
import fs from 'node:fs';
import tls from 'node:tls';

const [port, servername, count, warmup, caFile, path = '/'] = process.argv.slice(2);
const ca = fs.readFileSync(caFile);
const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);

function one() {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    let bytes = 0;
    let headerEnd = -1;
    let expected = Infinity;
    let head = Buffer.alloc(0);
    let stopped;
    const socket = tls.connect(
      { host: '127.0.0.1', port: Number(port), servername, ca, minVersion: 'TLSv1.3', noDelay: true },
      () => socket.write(request),
    );
    // The request follows the client's Finished at once: Nagle would hold it for the server's delayed ACK.
    socket.setNoDelay(true);
    const timer = setTimeout(() => socket.destroy(new Error('timeout')), 30_000);
    socket.on('data', (chunk) => {
      bytes += chunk.length;
      if (headerEnd < 0) {
        head = Buffer.concat([head, chunk]);
        headerEnd = head.indexOf('\r\n\r\n');
        if (headerEnd >= 0) {
          const length = /content-length:\s*(\d+)/i.exec(head.subarray(0, headerEnd).toString('latin1'));
          expected = headerEnd + 4 + Number(length?.[1] ?? 0);
        }
      }
      if (stopped === undefined && bytes >= expected) stopped = process.hrtime.bigint();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(stopped === undefined ? undefined : { us: Number(stopped - start) / 1000, bytes });
    });
  });
}

let errors = 0;
let bytes = 0;
const samples = [];
for (let i = 0; i < Number(warmup) + Number(count); i++) {
  const result = await one();
  if (result === undefined) errors++;
  else if (i >= Number(warmup)) {
    samples.push(result.us);
    bytes += result.bytes;
  }
}
samples.sort((a, b) => a - b);
// Nearest rank, as the C client (./probe-common.h) takes it.
const at = (q) => samples[Math.round(q * (samples.length - 1))];
const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
console.log(JSON.stringify({ n: samples.length, errors, p50_us: at(0.5), p99_us: at(0.99), mean_us: mean, bytes }));
