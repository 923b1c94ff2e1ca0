// `npm run bench`: the dispatcher against Node's own ways of spreading connections over processes, on this
// machine, in one run, with one load generator (wrk). Setups, each on its own loopback port, all serving the
// same trivial HTTP response:
//
//   portunus      acceptAndDispatch + WorkerPool of 2 workers (min = max = 2)
//   portunus shared  serveListeners({ mode: 'shared' }): the same pool accepts from the master's listener
//   portunus reuseport  serveListeners({ mode: 'reuseport' }): each worker accepts from its own SO_REUSEPORT member
//   cluster RR    node:cluster SCHED_RR, 2 workers (the primary accepts and passes handles over IPC)
//   cluster NONE  node:cluster SCHED_NONE, 2 workers (shared listening socket)
//   single        one process, http.createServer().listen()
//
// Each repetition runs every setup in turn (the order rotates between repetitions, so drift and warm caches
// favour nobody): start it, warm it up (wrk, 1 s), measure fresh-connection latency with a sequential client,
// then run wrk with a new connection per request ("close") and with keep-alive, sampling the server's exact
// CPU time (master + workers) and each worker's count of connections around each wrk run. Then, for the
// setups in KILL_SETUPS, a kill scenario: wrk with a new connection per request for KILL_DUR seconds, one
// worker SIGKILLed half-way, client errors counted. Ratios are taken within a repetition, then the median over
// repetitions is reported. Knobs (environment): REPS (3), DUR (5 s per wrk run), CONNS (50), LAT_N (5000),
// LAT_WARMUP (200), PORT (18300: first of six consecutive ports), SETUPS (all; e.g. "portunus,cluster-rr"),
// KILL_SETUPS (portunus-reuseport, portunus-shared, portunus, cluster-none, cluster-rr; "" for none), KILL_DUR (4 s).
// Results also go to bench/results/dispatch-<date>.json; `node bench/dispatch.js --report FILE` prints the
// tables of such a file again.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureFirstResponse, prepareLatencyClient } from './lib/first-response-latency.js';
import { connectionCounts, connectionSpread, countsDirectory } from './lib/connection-counts.js';
import { foreignCpuPercent, foreignSnapshot } from './lib/foreign-cpu.js';
import { processCpuNs, schedstatAvailable, serverCpuNs } from './lib/server-cpu.js';
import { sleep, startServer, stopServer } from './lib/server-process.js';
import { integerEnv, median } from './lib/stats.js';
import { runWrk, wrkVersion } from './lib/wrk-load.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const REPS = Math.max(1, integerEnv('REPS', 3, 0));
const DUR = Math.max(1, integerEnv('DUR', 5, 0));
const CONNS = Math.max(1, integerEnv('CONNS', 50, 0));
const LAT_N = integerEnv('LAT_N', 5000, 0);
const LAT_WARMUP = integerEnv('LAT_WARMUP', 200, 0);
const BASE_PORT = integerEnv('PORT', 18300, 0);
const KILL_DUR = Math.max(2, integerEnv('KILL_DUR', 4, 0));
const KILL_SETUPS = (process.env.KILL_SETUPS ?? 'portunus-reuseport,portunus-shared,portunus,cluster-none,cluster-rr')
  .split(/[\s,]+/)
  .filter(Boolean);
const COUNTS_DIR = countsDirectory();

const ALL_SETUPS = [
  { id: 'portunus', name: 'portunus acceptAndDispatch', script: 'servers/portunus-master.js', env: {} },
  { id: 'portunus-shared', name: 'portunus shared listener', script: 'servers/portunus-shared.js', env: {} },
  { id: 'portunus-reuseport', name: 'portunus reuseport', script: 'servers/portunus-reuseport.js', env: {} },
  { id: 'cluster-rr', name: 'cluster SCHED_RR', script: 'servers/cluster.js', env: { SCHED: 'rr' } },
  { id: 'cluster-none', name: 'cluster SCHED_NONE', script: 'servers/cluster.js', env: { SCHED: 'none' } },
  { id: 'single', name: 'single process', script: 'servers/single.js', env: {} },
].map((setup, index) => ({ ...setup, port: BASE_PORT + index }));
const wanted = process.env.SETUPS?.split(/[\s,]+/).filter(Boolean);
const SETUPS = wanted === undefined ? ALL_SETUPS : ALL_SETUPS.filter((setup) => wanted.includes(setup.id));
if (SETUPS.length === 0) throw new Error(`SETUPS matches none of ${ALL_SETUPS.map((s) => s.id).join(', ')}`);
const WORKLOADS = [
  { id: 'close', name: 'new connection per request', close: true },
  { id: 'keepalive', name: 'keep-alive', close: false },
];

/**
 * The aims, with the measurements they were set against (same kind of machine, cluster RR at
 * 98 µs of server CPU per new connection), so that the CPU aim can be scaled to this run's cluster RR.
 */
const AIMS = { closeVsRr: 1.6, closeCpuUs: 45, closeCpuRrUs: 98, keepAliveVsRr: 0.95, p50VsRr: 0.65 };

async function main() {
  if (process.argv[2] === '--report') {
    const { machine, config, runs } = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
    for (const [key, value] of Object.entries(machine)) console.log(`${key.padEnd(14)} ${value}`);
    const ids = new Set(runs.map((run) => run.setup));
    console.log(
      `\n${summarize(
        runs,
        ALL_SETUPS.filter((setup) => ids.has(setup.id)),
        config,
      )}`,
    );
    return;
  }
  const wrk = await wrkVersion();
  if (wrk === undefined) {
    console.error('wrk is not installed (Debian/Ubuntu: apt-get install -y wrk).');
    process.exit(1);
  }
  if (!schedstatAvailable()) {
    console.error('this kernel has no /proc/PID/task/TID/schedstat: CPU time per request cannot be measured.');
    process.exit(1);
  }
  const latencyClient = LAT_N > 0 ? prepareLatencyClient() : 'skipped';
  const machine = {
    date: new Date().toISOString(),
    cpu: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.availableParallelism()}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    wrk,
    latencyClient,
    params: `REPS=${REPS} DUR=${DUR}s CONNS=${CONNS} (wrk -t1) LAT_N=${LAT_N} LAT_WARMUP=${LAT_WARMUP}`,
  };
  for (const [key, value] of Object.entries(machine)) console.log(`${key.padEnd(14)} ${value}`);

  const runs = [];
  for (let rep = 0; rep < REPS; rep++) {
    const order = SETUPS.map((_, i) => SETUPS[(i + rep) % SETUPS.length]);
    for (const setup of order) {
      process.stdout.write(`rep ${rep + 1}/${REPS} ${setup.name.padEnd(28)}`);
      const run = await measureSetup(setup);
      if (KILL_SETUPS.includes(setup.id)) {
        await sleep(500);
        run.kill = await measureKill(setup);
      }
      runs.push({ rep, setup: setup.id, ...run });
      const summary = WORKLOADS.map(
        (w) =>
          `${w.id} ${Math.round(run[w.id].rps)}/s ${run[w.id].cpuUsPerRequest.toFixed(1)}µs (other ${run[w.id].otherCpuPercent.toFixed(0)}%)`,
      ).join('  ');
      const latency = run.latency
        ? `  first response p50 ${run.latency.p50.toFixed(0)}µs p99 ${run.latency.p99.toFixed(0)}µs`
        : '';
      const kill = run.kill ? `  kill: ${run.kill.errors} errors of ${run.kill.requests}` : '';
      console.log(`${summary}${latency}${kill}`);
      await sleep(500);
    }
  }

  const config = { REPS, DUR, CONNS, LAT_N, LAT_WARMUP, KILL_DUR };
  console.log(`\n${summarize(runs, SETUPS, config)}`);
  const resultsDir = path.join(here, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `dispatch-${machine.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify({ machine, config, runs: runs.map(stripRaw) }, null, 2));
  console.log(`\nraw results: ${path.relative(process.cwd(), file)}`);
}

async function measureSetup(setup) {
  const server = await startServer(path.join(here, setup.script), setup.port, {
    ...setup.env,
    BENCH_COUNTS_DIR: COUNTS_DIR,
  });
  try {
    const run = {};
    // Warm up first (JIT, connection paths), so that the latency probe sees a server in its steady state.
    await runWrk({ port: setup.port, seconds: 1, conns: CONNS, close: true });
    if (LAT_N > 0) run.latency = await measureFirstResponse({ port: setup.port, count: LAT_N, warmup: LAT_WARMUP });
    for (const workload of WORKLOADS) {
      const foreignBefore = foreignSnapshot(server);
      const before = serverCpuNs(server);
      const workersBefore = server.workers.map(processCpuNs);
      const countsBefore = await connectionCounts(COUNTS_DIR, server.workers);
      const result = await runWrk({ port: setup.port, seconds: DUR, conns: CONNS, close: workload.close });
      const after = serverCpuNs(server);
      const perWorkerNs = server.workers.map((pid, index) => processCpuNs(pid) - workersBefore[index]);
      const foreignAfter = foreignSnapshot(server);
      const countsAfter = await connectionCounts(COUNTS_DIR, server.workers);
      const requests = Math.max(1, result.requests);
      const masterNs = after.master - before.master;
      const workersNs = after.workers - before.workers;
      run[workload.id] = {
        ...result,
        masterUsPerRequest: masterNs / 1000 / requests,
        workersUsPerRequest: workersNs / 1000 / requests,
        cpuUsPerRequest: (masterNs + workersNs) / 1000 / requests,
        otherCpuPercent: foreignCpuPercent(foreignBefore, foreignAfter),
        // How unevenly the work spread: the busiest worker's CPU time over the idlest one's (1 is even). The
        // same trivial response everywhere makes CPU time a faithful count of the requests each served.
        spread: perWorkerNs.length > 1 ? Math.max(...perWorkerNs) / Math.max(1, Math.min(...perWorkerNs)) : NaN,
        // The same by connections each worker took (for keep-alive: where the CONNS connections landed).
        connectionSpread: connectionSpread(countsBefore, countsAfter),
        connectionsByWorker: countsAfter.map((count, index) => (count ?? NaN) - (countsBefore[index] ?? NaN)),
      };
    }
    return run;
  } finally {
    await stopServer(server);
    if (server.log.trim() !== '')
      process.stdout.write(`\n  [${setup.id}] ${server.log.trim().replace(/\n/g, '\n  ')}\n`);
  }
}

/**
 * The kill scenario: a fresh server, warmed up, under wrk with a new connection per request for KILL_DUR
 * seconds; half-way, its first worker is SIGKILLed. Counts wrk's errors (connect, read, write, timeout) and
 * non-2xx answers. A request the killed worker had accepted dies with it in every setup; what differs is
 * what happens to connections queued for it, or handed to it, and how soon the others take its share.
 */
async function measureKill(setup) {
  const server = await startServer(path.join(here, setup.script), setup.port, {
    ...setup.env,
    BENCH_COUNTS_DIR: COUNTS_DIR,
  });
  try {
    await runWrk({ port: setup.port, seconds: 1, conns: CONNS, close: true });
    const load = runWrk({ port: setup.port, seconds: KILL_DUR, conns: CONNS, close: true });
    await sleep((KILL_DUR * 1000) / 2);
    process.kill(server.workers[0], 'SIGKILL');
    const result = await load;
    return { requests: result.requests, errors: result.errors + result.non2xx, rps: result.rps };
  } finally {
    await stopServer(server);
  }
}

/** Median over repetitions of `value(run)` for one setup; with `against`, of the ratio to that setup's run of the same repetition. */
function statistic(runs, setup, value, against) {
  const mine = runs.filter((run) => run.setup === setup);
  if (against === undefined) return median(mine.map(value));
  return median(
    mine.map((run) => {
      const other = runs.find((candidate) => candidate.setup === against && candidate.rep === run.rep);
      return other === undefined ? NaN : value(run) / value(other);
    }),
  );
}

function summarize(runs, setups, { REPS, DUR, CONNS, LAT_N }) {
  const fmt = (value, digits = 0) =>
    Number.isFinite(value)
      ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
      : '–';
  const lines = [];
  lines.push(
    `Throughput: wrk -t1 -c${CONNS} -d${DUR}s, median of ${REPS}; ratios within each repetition; CPU = master + workers;`,
  );
  lines.push(
    '"other CPU %": CPU used during the wrk runs by processes outside the benchmark (% of one core; should be near 0)',
  );
  lines.push('');
  lines.push(
    '| workload | setup | req/s | vs cluster RR | vs single | CPU µs/req | CPU vs cluster RR | master µs/req | busiest/idlest worker (CPU) | busiest/idlest worker (connections) | other CPU % | errors |',
  );
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const workload of WORKLOADS) {
    for (const setup of setups) {
      const rps = (run) => run[workload.id].rps;
      const cpu = (run) => run[workload.id].cpuUsPerRequest;
      const errors = runs
        .filter((run) => run.setup === setup.id)
        .reduce((sum, run) => sum + run[workload.id].errors + run[workload.id].non2xx, 0);
      lines.push(
        `| ${workload.id} | ${setup.name} | ${fmt(statistic(runs, setup.id, rps))} | ${fmt(statistic(runs, setup.id, rps, 'cluster-rr'), 2)} | ` +
          `${fmt(statistic(runs, setup.id, rps, 'single'), 2)} | ${fmt(statistic(runs, setup.id, cpu), 1)} | ${fmt(statistic(runs, setup.id, cpu, 'cluster-rr'), 2)} | ` +
          `${fmt(
            statistic(runs, setup.id, (run) => run[workload.id].masterUsPerRequest),
            1,
          )} | ` +
          `${fmt(
            statistic(runs, setup.id, (run) => run[workload.id].spread ?? NaN),
            2,
          )} | ` +
          `${fmt(
            statistic(runs, setup.id, (run) => run[workload.id].connectionSpread ?? NaN),
            2,
          )} | ` +
          `${fmt(
            statistic(runs, setup.id, (run) => run[workload.id].otherCpuPercent ?? NaN),
            0,
          )} | ${errors} |`,
      );
    }
  }
  if (LAT_N > 0) {
    lines.push('');
    lines.push(
      `Fresh connection, first response (sequential: connect, request, full response; N=${LAT_N}, median of ${REPS})`,
    );
    lines.push('');
    lines.push('| setup | p50 µs | p90 µs | p99 µs | p50 vs cluster RR | p50 vs single | errors |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|');
    for (const setup of setups) {
      const p = (key) => (run) => run.latency[key];
      const errors = runs.filter((run) => run.setup === setup.id).reduce((sum, run) => sum + run.latency.errors, 0);
      lines.push(
        `| ${setup.name} | ${fmt(statistic(runs, setup.id, p('p50')))} | ${fmt(statistic(runs, setup.id, p('p90')))} | ${fmt(statistic(runs, setup.id, p('p99')))} | ` +
          `${fmt(statistic(runs, setup.id, p('p50'), 'cluster-rr'), 2)} | ${fmt(statistic(runs, setup.id, p('p50'), 'single'), 2)} | ${errors} |`,
      );
    }
  }
  const killed = setups.filter((setup) => runs.some((run) => run.setup === setup.id && run.kill !== undefined));
  if (killed.length > 0) {
    lines.push('');
    lines.push(
      `One worker SIGKILLed half-way through wrk -t1 -c${CONNS} -d${KILL_DUR}s, a new connection per request (per repetition; median)`,
    );
    lines.push('');
    lines.push('| setup | client errors per repetition | median | requests (median) |');
    lines.push('|---|---|---:|---:|');
    for (const setup of killed) {
      const mine = runs.filter((run) => run.setup === setup.id && run.kill !== undefined);
      lines.push(
        `| ${setup.name} | ${mine.map((run) => run.kill.errors).join(', ')} | ${fmt(median(mine.map((run) => run.kill.errors)))} | ` +
          `${fmt(median(mine.map((run) => run.kill.requests)))} |`,
      );
    }
  }
  if (setups.some((s) => s.id === 'portunus-reuseport') && setups.some((s) => s.id === 'cluster-none')) {
    const vsNone = (value) => statistic(runs, 'portunus-reuseport', value, 'cluster-none');
    const rps = vsNone((run) => run.close.rps);
    const cpu = vsNone((run) => run.close.cpuUsPerRequest);
    const p50 = LAT_N > 0 ? vsNone((run) => run.latency.p50) : NaN;
    const spread = statistic(runs, 'portunus-reuseport', (run) => run.close.connectionSpread);
    const noneSpread = statistic(runs, 'cluster-none', (run) => run.close.connectionSpread);
    const check = (ok) => (ok ? 'met' : 'MISSED');
    lines.push('');
    lines.push('Aims (portunus reuseport vs cluster SCHED_NONE, new connection per request):');
    lines.push(`  req/s: ${fmt(rps, 2)}x (aim >= 1.0x: ${check(rps >= 1)})`);
    lines.push(`  server CPU per request: ${fmt(cpu, 2)}x (aim <= 1.0x: ${check(cpu <= 1)})`);
    if (LAT_N > 0) lines.push(`  fresh-connection p50: ${fmt(p50, 2)}x (aim <= 1.0x: ${check(p50 <= 1)})`);
    lines.push(
      `  busiest/idlest worker by connections: ${fmt(spread, 2)} (aim <= 1.2: ${check(spread <= 1.2)}; cluster SCHED_NONE ${fmt(noneSpread, 2)})`,
    );
  }
  if (setups.some((s) => s.id === 'portunus') && setups.some((s) => s.id === 'cluster-rr')) {
    const closeRatio = statistic(runs, 'portunus', (run) => run.close.rps, 'cluster-rr');
    const closeCpu = statistic(runs, 'portunus', (run) => run.close.cpuUsPerRequest);
    const closeCpuVsRr = statistic(runs, 'portunus', (run) => run.close.cpuUsPerRequest, 'cluster-rr');
    const rrCpu = statistic(runs, 'cluster-rr', (run) => run.close.cpuUsPerRequest);
    const cpuAimVsRr = AIMS.closeCpuUs / AIMS.closeCpuRrUs;
    const keepAlive = statistic(runs, 'portunus', (run) => run.keepalive.rps, 'cluster-rr');
    const p50 = LAT_N > 0 ? statistic(runs, 'portunus', (run) => run.latency.p50, 'cluster-rr') : NaN;
    const check = (ok) => (ok ? 'met' : 'MISSED');
    lines.push('');
    lines.push('Aims (portunus vs cluster RR):');
    lines.push(
      `  new connection per request: ${fmt(closeRatio, 2)}x req/s (aim >= ${AIMS.closeVsRr}x: ${check(closeRatio >= AIMS.closeVsRr)})`,
    );
    lines.push(
      `  server CPU per new connection: ${fmt(closeCpu, 1)} µs = ${fmt(closeCpuVsRr, 2)}x cluster RR's ${fmt(rrCpu, 1)} µs ` +
        `(aim < ${AIMS.closeCpuUs} µs where cluster RR took ${AIMS.closeCpuRrUs} µs, i.e. < ${fmt(cpuAimVsRr, 2)}x: ${check(closeCpuVsRr < cpuAimVsRr)}; ` +
        `absolute < ${AIMS.closeCpuUs} µs: ${check(closeCpu < AIMS.closeCpuUs)})`,
    );
    lines.push(
      `  keep-alive: ${fmt(keepAlive, 2)}x req/s (aim >= ${AIMS.keepAliveVsRr}x: ${check(keepAlive >= AIMS.keepAliveVsRr)})`,
    );
    if (LAT_N > 0)
      lines.push(`  fresh-connection p50: ${fmt(p50, 2)}x (aim <= ${AIMS.p50VsRr}x: ${check(p50 <= AIMS.p50VsRr)})`);
  }
  return lines.join('\n');
}

function stripRaw(run) {
  const copy = { ...run };
  for (const workload of WORKLOADS) if (copy[workload.id]) copy[workload.id] = { ...copy[workload.id], raw: undefined };
  return copy;
}

await main();
