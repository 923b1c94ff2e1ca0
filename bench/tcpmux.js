// `npm run bench:tcpmux`: what the tcpmux hop costs a fresh connection. One service process serves the same
// tiny HTTP app two ways: on its own TCP port (direct), and registered with a service registry behind a
// tcpmux server in another process (tcpmux: the client sends "bench\r\n" and its request in one write; the
// server reads the name line, hands the socket over, the service writes "+\r\n" and answers). The clock runs
// from connect() to the end of the response, strictly one connection at a time, from a Node client in this
// process (it adds the same overhead to both). Each round measures both, the order alternating; medians of
// the rounds' p50/p99 are reported with the difference. Knobs: ROUNDS (5), N (500 connections per
// measurement), WARMUP (100).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { integerEnv, median } from './lib/stats.js';

const self = fileURLToPath(import.meta.url);
const role = process.argv[2];
const REQUEST = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';

if (role === '--mux') {
  const { openServiceRegistry, serveTcpmux } = await import('../dist/index.js');
  const registry = await openServiceRegistry({ path: process.argv[3] });
  const mux = await serveTcpmux({ listen: { host: '127.0.0.1', port: 0 }, registry });
  console.log(JSON.stringify({ port: mux.address().port }));
  process.on('SIGTERM', () => process.exit(0));
} else if (role === '--service') {
  const { registerService } = await import('../dist/index.js');
  const app = http.createServer((request, response) => {
    response.setHeader('connection', 'close');
    response.end('hello\n');
  });
  await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
  await registerService('bench', app, { registry: process.argv[3] });
  console.log(JSON.stringify({ port: app.address().port }));
  process.on('SIGTERM', () => process.exit(0));
} else {
  await main();
}

function start(args) {
  const child = spawn(process.execPath, [self, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once('line', (line) => resolve({ child, ...JSON.parse(line) }));
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)));
  });
}

/** One connection: connect, send `prefix` and the request, read to the end; resolves with µs. */
function oneConnection(port, prefix) {
  return new Promise((resolve, reject) => {
    const startedAt = process.hrtime.bigint();
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => (received += chunk));
    socket.once('end', () => {
      const us = Number(process.hrtime.bigint() - startedAt) / 1000;
      socket.destroy();
      if (!received.includes('hello\n')) reject(new Error(`unexpected answer ${JSON.stringify(received)}`));
      else resolve(us);
    });
    socket.once('error', reject);
    socket.write(prefix + REQUEST);
  });
}

async function measure(port, prefix, count, warmup) {
  const samples = [];
  for (let index = 0; index < warmup + count; index++) {
    const us = await oneConnection(port, prefix);
    if (index >= warmup) samples.push(us);
  }
  samples.sort((a, b) => a - b);
  const at = (p) => samples[Math.round(p * (samples.length - 1))];
  return { p50: at(0.5), p99: at(0.99) };
}

async function main() {
  const rounds = integerEnv('ROUNDS', 5);
  const count = integerEnv('N', 500);
  const warmup = integerEnv('WARMUP', 100, 0);
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-bench-tcpmux-'));
  const registryPath = path.join(directory, 'registry.sock');
  const mux = await start(['--mux', registryPath]);
  const service = await start(['--service', registryPath]);
  const results = { direct: [], tcpmux: [] };
  try {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? ['direct', 'tcpmux'] : ['tcpmux', 'direct'];
      for (const name of order) {
        const result =
          name === 'direct'
            ? await measure(service.port, '', count, warmup)
            : await measure(mux.port, 'bench\r\n', count, warmup);
        results[name].push(result);
      }
      console.error(
        `round ${round + 1}/${rounds}: direct p50 ${results.direct.at(-1).p50.toFixed(0)} µs, ` +
          `tcpmux p50 ${results.tcpmux.at(-1).p50.toFixed(0)} µs`,
      );
    }
  } finally {
    mux.child.kill('SIGTERM');
    service.child.kill('SIGTERM');
    fs.rmSync(directory, { recursive: true, force: true });
  }
  const summary = (name) => ({
    p50: median(results[name].map((r) => r.p50)),
    p99: median(results[name].map((r) => r.p99)),
  });
  const direct = summary('direct');
  const tcpmux = summary('tcpmux');
  console.log(
    `first response of a fresh connection, ${rounds} rounds × ${count} sequential connections, ${os.cpus().length} cores`,
  );
  console.log(`  direct   p50 ${direct.p50.toFixed(0)} µs   p99 ${direct.p99.toFixed(0)} µs`);
  console.log(`  tcpmux   p50 ${tcpmux.p50.toFixed(0)} µs   p99 ${tcpmux.p99.toFixed(0)} µs`);
  console.log(
    `  the hop  ${signed(tcpmux.p50 - direct.p50)} µs at p50 (×${(tcpmux.p50 / direct.p50).toFixed(2)}), ` +
      `${signed(tcpmux.p99 - direct.p99)} µs at p99`,
  );
}

function signed(value) {
  return `${value >= 0 ? '+' : ''}${value.toFixed(0)}`;
}
