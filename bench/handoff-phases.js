// `npm run bench:phases`: where a fresh connection's first response spends its time, the dispatcher against
// cluster SCHED_RR, from the kernel's own clock. Each setup of bench/dispatch.js ("portunus" and "cluster-rr"
// by default) is started, warmed up (wrk with a new connection per request, then WARM_N sequential
// connections, so that both run JIT-compiled code), and then, while the sequential latency client makes N
// more connections, `perf record` takes the system-call tracepoints of the server's processes. Per
// connection, four phases, as medians over the N connections:
//
//   accept → sendmsg    master: accept4() returns, until the handoff's sendmsg() starts
//   sendmsg → recvmsg   the worker wakes up and receives the descriptor
//   recvmsg → read      worker: adoption, acknowledgement, back to the loop, first read() of the request
//   read → writev       worker: the HTTP request parsed and answered
//
// plus the system calls each process made per connection. Tracepoints cost a little per event but the same
// for every setup; the order of setups alternates between repetitions (REPS, 3) and ratios are taken within
// a repetition. Needs Linux, root (or perf_event_paranoid ≤ -1) and `perf` with the syscalls tracepoints
// (Debian: apt-get install -y linux-perf); says so and exits 1 otherwise. Knobs: REPS (3), N (1000),
// WARM_N (3000), PORT (18400), SETUPS ("portunus,cluster-rr").
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureFirstResponse, prepareLatencyClient } from './lib/first-response-latency.js';
import { sleep, startServer, stopServer } from './lib/server-process.js';
import { integerEnv, median } from './lib/stats.js';
import { runWrk, wrkVersion } from './lib/wrk-load.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const REPS = integerEnv('REPS', 3);
const N = integerEnv('N', 1000);
const WARM_N = integerEnv('WARM_N', 3000, 0);
const BASE_PORT = integerEnv('PORT', 18400);
const ALL_SETUPS = [
  { id: 'portunus', name: 'portunus acceptAndDispatch', script: 'servers/portunus-master.js', env: {} },
  { id: 'cluster-rr', name: 'cluster SCHED_RR', script: 'servers/cluster.js', env: { SCHED: 'rr' } },
  { id: 'cluster-none', name: 'cluster SCHED_NONE', script: 'servers/cluster.js', env: { SCHED: 'none' } },
];
const wanted = (process.env.SETUPS ?? 'portunus,cluster-rr').split(/[\s,]+/).filter(Boolean);
const SETUPS = ALL_SETUPS.filter((setup) => wanted.includes(setup.id));
const EVENTS = [
  'syscalls:sys_exit_accept4',
  'syscalls:sys_enter_sendmsg',
  'syscalls:sys_exit_recvmsg',
  'syscalls:sys_enter_read',
  'syscalls:sys_enter_write',
  'syscalls:sys_enter_writev',
  'syscalls:sys_enter_epoll_ctl',
  'syscalls:sys_enter_epoll_wait',
  'syscalls:sys_enter_epoll_pwait',
];
const PHASES = ['accept → sendmsg', 'sendmsg → recvmsg', 'recvmsg → read', 'read → writev', 'accept → writev'];

function perfUsable() {
  try {
    execFileSync('perf', ['list', 'syscalls:sys_enter_accept4'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .includes('sys_enter_accept4') || fail('perf has no syscalls tracepoints here');
  } catch (error) {
    fail(`perf is not usable: ${error.message.split('\n')[0]}`);
  }
}

function fail(message) {
  console.error(`${message} (Debian: apt-get install -y linux-perf; run as root).`);
  process.exit(1);
}

/** Runs one setup: warm-up, then N traced sequential connections. Resolves with phases and syscall counts. */
async function traceSetup(setup, port, dataFile) {
  const server = await startServer(path.join(here, setup.script), port, setup.env);
  try {
    await sleep(300);
    await runWrk({ port, seconds: 1, conns: 50, close: true });
    if (WARM_N > 0) await measureFirstResponse({ port, count: WARM_N, warmup: 0 });
    const perf = spawn('perf', ['record', '-q', '-a', '-o', dataFile, ...EVENTS.flatMap((e) => ['-e', e])], {
      stdio: 'ignore',
    });
    await sleep(700);
    const latency = await measureFirstResponse({ port, count: N, warmup: 0 });
    perf.kill('SIGINT');
    await new Promise((resolve) => perf.once('exit', resolve));
    return { latency, ...(await analyse(dataFile, server.pid, server.workers)) };
  } finally {
    await stopServer(server);
    fs.rmSync(dataFile, { force: true });
  }
}

/** Reads the trace back and follows each accepted connection from the master to its worker's response. */
async function analyse(dataFile, master, workers) {
  const text = await new Promise((resolve, reject) =>
    execFile('perf', ['script', '-i', dataFile], { maxBuffer: 1 << 30 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    ),
  );
  const pids = new Set([master, ...workers]);
  const events = [];
  for (const line of text.split('\n')) {
    const match = /^\s*\S+\s+(\d+)\s+\[\d+\]\s+([\d.]+):\s+syscalls:(\w+):\s*(.*)$/.exec(line);
    // Threads other than the main one (libuv's pool, V8's) have their own tids: only main threads count.
    if (match === null || !pids.has(Number(match[1]))) continue;
    events.push({ pid: Number(match[1]), us: Number(match[2]) * 1e6, name: match[3], args: match[4] });
  }
  const phases = Object.fromEntries(PHASES.map((phase) => [phase, []]));
  const isWorker = (event) => event.pid !== master;
  for (let i = 0; i < events.length; i++) {
    const accepted = events[i];
    if (accepted.pid !== master || accepted.name !== 'sys_exit_accept4' || !/0x[0-9a-f]{1,4}$/.test(accepted.args))
      continue;
    let j = i + 1;
    const next = (predicate) => {
      while (j < events.length && !predicate(events[j])) j++;
      return events[j];
    };
    const sent = next((e) => e.pid === master && e.name === 'sys_enter_sendmsg');
    const received = sent && next((e) => isWorker(e) && e.name === 'sys_exit_recvmsg');
    const read = received && next((e) => e.pid === received.pid && e.name === 'sys_enter_read');
    const answered = read && next((e) => e.pid === received.pid && e.name === 'sys_enter_writev');
    if (answered === undefined) break;
    phases['accept → sendmsg'].push(sent.us - accepted.us);
    phases['sendmsg → recvmsg'].push(received.us - sent.us);
    phases['recvmsg → read'].push(read.us - received.us);
    phases['read → writev'].push(answered.us - read.us);
    phases['accept → writev'].push(answered.us - accepted.us);
  }
  const syscalls = { master: {}, workers: {} };
  for (const event of events) {
    const side = event.pid === master ? syscalls.master : syscalls.workers;
    const name = event.name.replace(/^sys_(enter|exit)_/, '').replace(/^epoll_p?wait$/, 'epoll_wait');
    side[name] = (side[name] ?? 0) + 1;
  }
  const connections = phases['accept → writev'].length;
  return {
    connections,
    phases: Object.fromEntries(Object.entries(phases).map(([phase, values]) => [phase, median(values)])),
    syscalls: Object.fromEntries(
      Object.entries(syscalls).map(([side, counts]) => [
        side,
        Object.fromEntries(Object.entries(counts).map(([name, count]) => [name, count / Math.max(1, connections)])),
      ]),
    ),
  };
}

async function main() {
  if (os.platform() !== 'linux') fail('this needs Linux');
  perfUsable();
  if ((await wrkVersion()) === undefined) fail('wrk is not installed');
  prepareLatencyClient();
  console.log(`REPS=${REPS} N=${N} WARM_N=${WARM_N} node ${process.version}, ${os.availableParallelism()} CPUs`);
  const runs = [];
  const dataFile = path.join(os.tmpdir(), `portunus-phases-${process.pid}.data`);
  for (let rep = 0; rep < REPS; rep++) {
    for (let k = 0; k < SETUPS.length; k++) {
      const setup = SETUPS[(k + rep) % SETUPS.length];
      const run = await traceSetup(setup, BASE_PORT + ALL_SETUPS.indexOf(setup), dataFile);
      runs.push({ rep, setup: setup.id, ...run });
      const phases = PHASES.map((phase) => `${phase} ${run.phases[phase].toFixed(0)}`).join(', ');
      console.log(`rep ${rep + 1} ${setup.name.padEnd(28)} p50 ${run.latency.p50.toFixed(0)} µs; ${phases} µs`);
    }
  }
  const reference = 'cluster-rr';
  console.log(`\nmedians over ${REPS} repetitions (µs; ratio to ${reference} within each repetition):`);
  console.log(`| setup | first response p50 | ${PHASES.join(' | ')} |`);
  console.log(`|---|---:|${PHASES.map(() => '---:').join('|')}|`);
  for (const setup of SETUPS) {
    const mine = runs.filter((run) => run.setup === setup.id);
    const cell = (value, of) => {
      const ratios = mine
        .map((run) => {
          const base = runs.find((other) => other.rep === run.rep && other.setup === reference);
          return base === undefined ? NaN : of(run) / of(base);
        })
        .filter(Number.isFinite);
      return ratios.length > 0 && setup.id !== reference
        ? `${value.toFixed(0)} (${median(ratios).toFixed(2)}×)`
        : value.toFixed(0);
    };
    const p50 = cell(median(mine.map((run) => run.latency.p50)), (run) => run.latency.p50);
    const phases = PHASES.map((phase) =>
      cell(median(mine.map((run) => run.phases[phase])), (run) => run.phases[phase]),
    );
    console.log(`| ${setup.name} | ${p50} | ${phases.join(' | ')} |`);
  }
  console.log('\nsystem calls per connection (main threads; last repetition):');
  for (const setup of SETUPS) {
    const last = runs.filter((run) => run.setup === setup.id).at(-1);
    const show = (counts) =>
      Object.entries(counts)
        .sort()
        .map(([name, count]) => `${name} ${count.toFixed(2)}`)
        .join(', ');
    console.log(`${setup.name}\n  master:  ${show(last.syscalls.master)}\n  workers: ${show(last.syscalls.workers)}`);
  }
}

await main();
