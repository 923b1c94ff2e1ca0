// Latency of a fresh connection's first response: N strictly sequential connections (connect, one
// "Connection: close" request, full response). Uses ./first-response-latency.c (./c-probe.js builds it),
// because a Node client would add tens of microseconds of its own to every sample; falls back to a Node
// client when it cannot be built.
import { execFile } from 'node:child_process';
import net from 'node:net';
import { buildProbe } from './c-probe.js';

let binary;

/** Builds the C probe if needed; returns a description of the client that will be used. */
export function prepareLatencyClient() {
  binary = buildProbe('first-response-latency');
  if (binary !== undefined) return 'C (first-response-latency.c)';
  console.error('(using the Node client for the latency probe, which adds its own overhead)');
  return 'Node net';
}

/** Runs `count` measured connections after `warmup` unmeasured ones; resolves with percentiles in µs. */
export function measureFirstResponse({ port, count, warmup }) {
  if (binary !== undefined) {
    return new Promise((resolve, reject) => {
      execFile(
        binary,
        [String(port), String(count), String(warmup)],
        { timeout: 300_000, killSignal: 'SIGKILL' },
        (error, stdout) => {
          const fields = Object.fromEntries([...stdout.matchAll(/(\w+)=([\d.]+)/g)].map((m) => [m[1], Number(m[2])]));
          if (error && !fields.n) return reject(new Error(`latency probe failed: ${error.message}`));
          resolve({
            n: fields.n,
            errors: fields.errors,
            p50: fields.p50_us,
            p90: fields.p90_us,
            p99: fields.p99_us,
            max: fields.max_us,
          });
        },
      );
    });
  }
  return measureWithNode(port, count, warmup);
}

async function measureWithNode(port, count, warmup) {
  const samples = [];
  let errors = 0;
  for (let i = 0; i < warmup + count; i++) {
    const us = await oneConnection(port).catch(() => -1);
    if (i < warmup) continue;
    if (us < 0) errors++;
    else samples.push(us);
  }
  samples.sort((a, b) => a - b);
  const at = (p) => samples[Math.round(p * (samples.length - 1))];
  return { n: samples.length, errors, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: samples.at(-1) };
}

const REQUEST = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';

function oneConnection(port) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    let stop;
    let received = Buffer.alloc(0);
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => socket.write(REQUEST));
    socket.setTimeout(2000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (chunk) => {
      if (stop !== undefined) return;
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end >= 0 && received.length >= end + 4 + 2) stop = process.hrtime.bigint();
    });
    socket.on('error', reject);
    socket.on('close', () =>
      stop === undefined ? reject(new Error('no response')) : resolve(Number(stop - start) / 1000),
    );
  });
}
