// npm run bench:mux: what routing by handoff costs, against the same TLS service reached directly and through
// HAProxy in TCP mode (routing on the same server name, req_ssl_sni, and proxying every byte after it).
// For each setup, in one run: the first response of a fresh TLS connection (p50/p99 over LAT_N sequential
// connections) with the CPU the front and the service spent per connection, then one 100 MB response
// (BIG_BYTES) through the same front with the CPU the front spent on it. Every setup starts once and serves
// the whole run, repeated REPS times in rotating order; ratios within a repetition, medians over repetitions. The client is ./lib/tls-first-response.c (C and
// OpenSSL, built on first use; a Node TLS client, ./lib/tls-first-response.js, where it cannot be built: it
// spends about a millisecond of CPU per connection on the CPUs the servers share). See bench/README.md.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeCertificate } from '../test/helpers/tls-certificate.js';
import { buildProbe } from './lib/c-probe.js';
import { processCpuNs } from './lib/server-cpu.js';
import { startServer, stopServer, sleep } from './lib/server-process.js';
import { integerEnv, median } from './lib/stats.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const REPS = integerEnv('REPS', 3);
const LAT_N = integerEnv('LAT_N', 500);
const LAT_WARMUP = integerEnv('LAT_WARMUP', 50);
const BIG_BYTES = integerEnv('BIG_BYTES', 100 * 1024 * 1024);
const PORT = integerEnv('PORT', 18400);
const SNI = 'bench.test';

// The service's key and certificate, made by the tests' helper; HAProxy's config goes in the same directory.
const certificate = makeCertificate(SNI);
const { key, cert } = certificate;
const dir = path.dirname(key);
const serviceEnv = { BENCH_TLS_KEY: key, BENCH_TLS_CERT: cert, BIG_BYTES: String(BIG_BYTES) };
const cClient = buildProbe('tls-first-response', ['-lssl', '-lcrypto']);
const client =
  cClient === undefined
    ? { name: 'Node tls', command: process.execPath, args: [path.join(here, 'lib/tls-first-response.js')] }
    : { name: 'C + OpenSSL', command: cClient, args: [] };

function waitAccepting(port) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const attempt = () => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(socket.destroy()));
      socket.once('error', () =>
        Date.now() > deadline ? reject(new Error(`nothing on ${port}`)) : setTimeout(attempt, 50),
      );
    };
    attempt();
  });
}

/** HAProxy in TCP mode on `port`, routing by SNI to the service on `backendPort`; resolves with { pid, stop }. */
async function startHaproxy(port, backendPort) {
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(
    file,
    [
      'global',
      '  maxconn 4096',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend in',
      // As the router's deferAccept: the kernel holds each connection until its ClientHello arrives.
      `  bind 127.0.0.1:${port} defer-accept`,
      '  tcp-request inspect-delay 5s',
      '  tcp-request content accept if { req_ssl_hello_type 1 }',
      `  use_backend service if { req_ssl_sni -i ${SNI} }`,
      'backend service',
      `  server s1 127.0.0.1:${backendPort}`,
      '',
    ].join('\n'),
  );
  const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitAccepting(port);
  return {
    pid: child.pid,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000).then(() => child.kill('SIGKILL'))]);
    },
  };
}

/**
 * Each setup: start() resolves with { port, front: pid | undefined, service: pid[] , stop() }. The direct
 * service runs on PORT+1 for the whole run (HAProxy's backend too).
 */
const SETUPS = {
  direct: async (direct) => ({ port: PORT + 1, front: undefined, service: [direct.pid], stop: async () => {} }),
  'portunus router': async () => {
    const server = await startServer(path.join(here, 'servers/portunus-router.js'), PORT + 2, serviceEnv);
    return { port: PORT + 2, front: server.pid, service: server.workers, stop: () => stopServer(server) };
  },
  'haproxy tcp': async (direct) => {
    const haproxy = await startHaproxy(PORT + 3, PORT + 1);
    return { port: PORT + 3, front: haproxy.pid, service: [direct.pid], stop: haproxy.stop };
  },
};

const cpu = (pids) => pids.reduce((sum, pid) => sum + processCpuNs(pid), 0);

async function measure(setup, pathName, count, warmup) {
  const pids = setup.front === undefined ? [] : [setup.front];
  const before = { front: cpu(pids), service: cpu(setup.service) };
  const { stdout } = await run(
    client.command,
    [...client.args, String(setup.port), SNI, String(count), String(warmup), cert, pathName],
    { timeout: 600_000 },
  );
  const result = JSON.parse(stdout);
  // Warm-up connections are not counted in the CPU either: run them first, unmeasured, when there are any.
  const frontNs = cpu(pids) - before.front;
  const serviceNs = cpu(setup.service) - before.service;
  return { ...result, frontNs, serviceNs, connections: count + warmup };
}

async function main() {
  const direct = await startServer(path.join(here, 'servers/tls-service.js'), PORT + 1, serviceEnv);
  const reps = [];
  // Every setup runs for the whole run, as the direct service (HAProxy's backend) does: a router started
  // afresh for each repetition would be measured with less JIT warm-up than the service it is compared with.
  const running = {};
  try {
    const names = Object.keys(SETUPS);
    for (const name of names) running[name] = await SETUPS[name](direct);
    for (let rep = 0; rep < REPS; rep++) {
      const order = names.map((_, i) => names[(i + rep) % names.length]);
      const row = {};
      for (const name of order) {
        const setup = running[name];
        if (LAT_WARMUP > 0) await measure(setup, '/', LAT_WARMUP, 0);
        const latency = await measure(setup, '/', LAT_N, 0);
        const big = await measure(setup, '/big', 1, 0);
        row[name] = { latency, big };
        console.error(
          `rep ${rep + 1} ${name}: p50 ${latency.p50_us.toFixed(0)} µs p99 ${latency.p99_us.toFixed(0)} µs, ` +
            `front ${(latency.frontNs / 1000 / latency.connections).toFixed(1)} µs/conn, ` +
            `100 MB: front ${(big.frontNs / 1e6).toFixed(1)} ms, ${(big.mean_us / 1000).toFixed(0)} ms wall`,
        );
      }
      reps.push(row);
    }
  } finally {
    for (const setup of Object.values(running)) await setup.stop();
    await stopServer(direct);
    certificate.remove();
  }
  report(reps);
  fs.mkdirSync(path.join(here, 'results'), { recursive: true });
  const file = path.join(here, 'results', `mux-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({ node: process.version, cpus: os.cpus().length, client: client.name, reps }, null, 2),
  );
  console.log(`\nraw results: ${path.relative(process.cwd(), file)}`);
}

function report(reps) {
  const names = Object.keys(SETUPS);
  const med = (f) => (name) => median(reps.map((row) => f(row[name], row)));
  const p50 = med((r) => r.latency.p50_us);
  const p99 = med((r) => r.latency.p99_us);
  const added = med((r, row) => r.latency.p50_us - row.direct.latency.p50_us);
  const front = med((r) => r.latency.frontNs / 1000 / r.latency.connections);
  const service = med((r) => r.latency.serviceNs / 1000 / r.latency.connections);
  const bigFront = med((r) => r.big.frontNs / 1e6);
  const bigWall = med((r) => r.big.mean_us / 1000);
  console.log(
    `\nTLS first response, ${LAT_N} sequential connections, medians of ${REPS} repetitions (node ${process.version}, ${os.cpus().length} CPUs, client: ${client.name})\n`,
  );
  console.log(
    '| setup | p50 µs | p99 µs | p50 added vs direct µs | front CPU µs/conn | service CPU µs/conn | 100 MB: front CPU ms | 100 MB: wall ms |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const name of names)
    console.log(
      `| ${name} | ${p50(name).toFixed(0)} | ${p99(name).toFixed(0)} | ${added(name).toFixed(0)} | ${name === 'direct' ? '–' : front(name).toFixed(1)} | ${service(name).toFixed(1)} | ${name === 'direct' ? '–' : bigFront(name).toFixed(1)} | ${bigWall(name).toFixed(0)} |`,
    );
  const ratio = median(
    reps.map(
      (row) =>
        (row['portunus router'].latency.p50_us - row.direct.latency.p50_us) /
        (row['haproxy tcp'].latency.p50_us - row.direct.latency.p50_us),
    ),
  );
  console.log(`\nadded p50 latency, router over HAProxy (median of per-repetition ratios): ${ratio.toFixed(2)}`);
}

await main();
