// `npm run bench:handoff`: how fast one connected TCP socket moves to another process, portunus against
// Node's own child_process.send(message, socket), in one run on this machine.
//
//   portunus  distributeTransport() over a socketpair channel (unix backend) to a spawned child that adopts
//             the socket and closes it; the handoff is done when the child's ACK is back (the sender has then
//             closed its copy).
//   node IPC  child.send({ id }, socket) to a forked child that closes the socket it receives and answers
//             { ack: id }; the handoff is done when that answer is back (Node has closed the sender's copy).
//
// Each round runs both (the order alternates between rounds, so drift favours neither) in two modes:
// sequential (one handoff at a time: latency p50/p99 and handoffs per second) and pipelined (WINDOW
// handoffs in flight: handoffs per second, the way a busy acceptor works). Connections are made before each
// measurement (a listener with pauseOnConnect, clients in this process) and are not part of it. CPU time
// per handoff (sequential mode) is read from schedstat for the sender (this process) and the adopter (the
// child): on a small, shared machine it is steadier than wall-clock time. Medians over
// rounds are reported, with ratios. Knobs (environment): ROUNDS (5), N (1000 handoffs per mode and round),
// WINDOW (32), WARMUP (300 handoffs per setup, not measured).
import { fork, spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { processCpuNs } from './lib/server-cpu.js';
import { integerEnv, median } from './lib/stats.js';

const self = fileURLToPath(import.meta.url);
const role = process.argv[2];

if (role === '--adopter-portunus') {
  // The portunus child: adopt and close. The ACK leaves before the 'transport' listener runs.
  const { channelFromFd } = await import('../dist/index.js');
  const channel = channelFromFd(3);
  channel.on('transport', (adopted) => adopted.socket.destroy());
  channel.on('close', () => process.exit(0));
} else if (role === '--adopter-node-ipc') {
  // The child_process.send() child: close what arrives, then say so.
  process.on('message', (message, socket) => {
    socket?.destroy();
    process.send({ ack: message.id });
  });
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

async function main() {
  const ROUNDS = integerEnv('ROUNDS', 5);
  const N = integerEnv('N', 1000);
  const WINDOW = integerEnv('WINDOW', 32);
  const WARMUP = integerEnv('WARMUP', 300);
  // Never let a stuck child hang a terminal or a CI job.
  const watchdog = setTimeout(() => {
    console.error('bench:handoff: not done within 120 s');
    process.exit(1);
  }, 120_000);
  watchdog.unref();

  const { distributeTransport, socketPairForChild } = await import('../dist/index.js');
  const setups = [await portunusSetup(distributeTransport, socketPairForChild), await nodeIpcSetup()];
  const listener = await connectionSource();

  console.log(
    `bench:handoff  node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), ${os.type()} ${os.release()}`,
  );
  console.log(`${ROUNDS} rounds x ${N} handoffs per setup and mode, pipelined window ${WINDOW}, warm-up ${WARMUP}\n`);

  for (const setup of setups) await sequential(setup, await listener.connections(WARMUP), listener);

  const results = Object.fromEntries(
    setups.map((setup) => [setup.name, { p50: [], p99: [], seqRate: [], pipeRate: [], senderCpu: [], adopterCpu: [] }]),
  );
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? setups : [...setups].reverse();
    for (const setup of order) {
      const seq = await sequential(setup, await listener.connections(N), listener);
      const pipeRate = await pipelined(setup, await listener.connections(N), listener, WINDOW);
      const r = results[setup.name];
      r.p50.push(seq.p50);
      r.p99.push(seq.p99);
      r.seqRate.push(seq.rate);
      r.pipeRate.push(pipeRate);
      r.senderCpu.push(seq.senderCpu);
      r.adopterCpu.push(seq.adopterCpu);
      console.log(
        `round ${round + 1}  ${setup.name.padEnd(9)} sequential p50 ${fmt(seq.p50)} µs  p99 ${fmt(seq.p99)} µs  ${fmtRate(seq.rate)}/s` +
          `  cpu ${fmt(seq.senderCpu)} + ${fmt(seq.adopterCpu)} µs   pipelined ${fmtRate(pipeRate)}/s`,
      );
    }
  }

  const [a, b] = setups.map((setup) => setup.name);
  console.log(`\nmedians over ${ROUNDS} rounds`);
  console.log(
    `${''.padEnd(10)}${'p50 µs'.padStart(10)}${'p99 µs'.padStart(10)}${'seq /s'.padStart(10)}${'sender cpu µs'.padStart(15)}${'adopter cpu µs'.padStart(16)}${'pipelined /s'.padStart(14)}`,
  );
  for (const name of [a, b]) {
    const r = results[name];
    console.log(
      `${name.padEnd(10)}${fmt(median(r.p50)).padStart(10)}${fmt(median(r.p99)).padStart(10)}${fmtRate(median(r.seqRate)).padStart(10)}` +
        `${fmt(median(r.senderCpu)).padStart(15)}${fmt(median(r.adopterCpu)).padStart(16)}${fmtRate(median(r.pipeRate)).padStart(14)}`,
    );
  }
  // Ratios within each round, then their median: drift between rounds cancels out.
  const ratio = (key) => median(results[a][key].map((value, i) => value / results[b][key][i])).toFixed(2);
  console.log(`\n${a} / ${b}, median of the per-round ratios:`);
  console.log(`  latency     p50 ${ratio('p50')}  p99 ${ratio('p99')}   (below 1: ${a} faster)`);
  console.log(`  CPU         sender ${ratio('senderCpu')}  adopter ${ratio('adopterCpu')}   (below 1: ${a} cheaper)`);
  console.log(`  throughput  sequential ${ratio('seqRate')}  pipelined ${ratio('pipeRate')}   (above 1: ${a} faster)`);

  await Promise.all(setups.map((setup) => setup.close()));
  await listener.close();
}

/** A loopback listener that hands out batches of freshly accepted, paused server-side sockets. */
async function connectionSource() {
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  let clients = [];
  return {
    async connections(count) {
      const accepted = [];
      const all = new Promise((resolve) => {
        const onConnection = (socket) => {
          accepted.push(socket);
          if (accepted.length === count) {
            server.off('connection', onConnection);
            resolve();
          }
        };
        server.on('connection', onConnection);
      });
      // In batches: a burst of thousands of connects overflows the accept queue into SYN retries.
      for (let made = 0; made < count; made += 100) {
        const batch = [];
        for (let i = made; i < Math.min(count, made + 100); i++) {
          const client = net.connect(port, '127.0.0.1');
          client.on('error', () => {}); // the far side closes these connections at any moment
          // Not reading: the end of each connection is not processed here while a measurement runs.
          client.pause();
          clients.push(client);
          batch.push(new Promise((resolve) => client.once('connect', resolve)));
        }
        await Promise.all(batch);
      }
      await all;
      return accepted;
    },
    /** Closes the client ends of everything handed off so far. */
    dropClients() {
      for (const client of clients) client.destroy();
      clients = [];
    },
    close() {
      this.dropClients();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

async function portunusSetup(distributeTransport, socketPairForChild) {
  const { channel, childFd, closeChildFd } = socketPairForChild();
  const child = spawn(process.execPath, [self, '--adopter-portunus'], {
    stdio: ['ignore', 'inherit', 'inherit', childFd],
  });
  closeChildFd();
  await channel.ready;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    name: 'portunus',
    pid: child.pid,
    handoff: (socket) => distributeTransport(channel, socket),
    async close() {
      await channel.close();
      await exited;
    },
  };
}

async function nodeIpcSetup() {
  const child = fork(self, ['--adopter-node-ipc'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise((resolve) => child.once('spawn', resolve));
  const pending = new Map();
  let nextId = 1;
  child.on('message', (message) => {
    pending.get(message.ack)?.();
    pending.delete(message.ack);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    name: 'node IPC',
    pid: child.pid,
    handoff: (socket) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, resolve);
        child.send({ id }, socket, (error) => {
          if (error) {
            pending.delete(id);
            reject(error);
          }
        });
      }),
    async close() {
      child.disconnect();
      await exited;
    },
  };
}

/** One handoff at a time; latency of each, from the call to the answer. */
async function sequential(setup, sockets, listener) {
  const latencies = new Float64Array(sockets.length);
  const cpuBefore = cpuNs(setup);
  const start = process.hrtime.bigint();
  for (let i = 0; i < sockets.length; i++) {
    const t0 = process.hrtime.bigint();
    await setup.handoff(sockets[i]);
    latencies[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = cpuPerHandoff(setup, cpuBefore, sockets.length);
  listener.dropClients();
  latencies.sort();
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { p50: at(0.5), p99: at(0.99), rate: sockets.length / elapsed, ...cpu };
}

/** CPU nanoseconds used so far by this process (the sender) and the setup's child (the adopter). */
function cpuNs(setup) {
  return { sender: processCpuNs(process.pid), adopter: processCpuNs(setup.pid) };
}

/** CPU microseconds per handoff on each side since `before`. */
function cpuPerHandoff(setup, before, count) {
  const now = cpuNs(setup);
  return {
    senderCpu: (now.sender - before.sender) / 1000 / count,
    adopterCpu: (now.adopter - before.adopter) / 1000 / count,
  };
}

/** `window` handoffs in flight at all times; handoffs per second. */
async function pipelined(setup, sockets, listener, window) {
  let next = 0;
  const start = process.hrtime.bigint();
  const lane = async () => {
    while (next < sockets.length) await setup.handoff(sockets[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(window, sockets.length) }, lane));
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  listener.dropClients();
  return sockets.length / elapsed;
}

function fmt(microseconds) {
  return microseconds >= 100 ? microseconds.toFixed(0) : microseconds.toFixed(1);
}

function fmtRate(rate) {
  return rate >= 10_000 ? `${(rate / 1000).toFixed(1)}k` : rate.toFixed(0);
}
