// `npm run bench:takeover`: how long a successor takes, from connecting to the running process's takeover
// socket, to serving all of its listeners, and to the running process having stopped accepting.
//
// The running process (this one) listens on LISTENERS TCP ports (127.0.0.1, port 0) and offers them with
// offerListeners(). Each round spawns a successor (this file, --successor) that times, from just before
// takeListeners():
//   received   every listener has arrived (OFFER + batched TRANSPORT frames, adopted as descriptors)
//   serving    a net.Server listens on each of them (the successor accepts on all)
//   released   ready() has resolved: the running process stopped accepting and freed the socket path
// and the CPU time the successor spent from connecting to serving (steadier than wall-clock time on a
// loaded machine: the successor runs freshly started, unoptimised code, and waits for the old process).
// The successor then offers the listeners in turn, and the next round's successor takes them from it, so
// every round is a real upgrade between two processes. Process start-up and module loading are outside
// the measurement. Knobs (environment): ROUNDS (7), LISTENERS (100). Medians over rounds, with min and max.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { integerEnv, median } from './lib/stats.js';

const self = fileURLToPath(import.meta.url);
const { offerListeners, takeListeners } = await import('../dist/index.js');

if (process.argv[2] === '--successor') {
  const socketPath = process.argv[3];
  const start = process.hrtime.bigint();
  const startCpu = process.cpuUsage();
  const taken = await takeListeners(socketPath);
  const received = process.hrtime.bigint();
  const listeners = {};
  await Promise.all(
    [...taken.listeners.keys()].map(async (name) => {
      listeners[name] = await taken.listen(
        name,
        net.createServer((socket) => socket.destroy()),
      );
    }),
  );
  const serving = process.hrtime.bigint();
  const { user, system } = process.cpuUsage(startCpu);
  await taken.ready();
  const released = process.hrtime.bigint();
  const ms = (end) => Number(end - start) / 1e6;
  const offering = await offerListeners({ path: socketPath, listeners });
  process.stdout.write(
    `${JSON.stringify({ received: ms(received), serving: ms(serving), released: ms(released), servingCpu: (user + system) / 1000, count: taken.listeners.size + Object.keys(listeners).length })}\n`,
  );
  // Stay until the next generation has taken over (or the bench ends, which kills this process).
  await offering.handedOver();
  process.exit(0);
}

const rounds = integerEnv('ROUNDS', 7);
const count = integerEnv('LISTENERS', 100);
const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-bench-takeover-'));
const socketPath = path.join(directory, 'takeover.sock');

const servers = {};
for (let index = 0; index < count; index++) {
  servers[`port${index}`] = await new Promise((resolve) => {
    const server = net.createServer((socket) => socket.destroy());
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
const first = await offerListeners({ path: socketPath, listeners: servers });

function runSuccessor() {
  const child = spawn(process.execPath, [self, '--successor', socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes('\n')) resolve({ child, result: JSON.parse(output) });
    });
    child.once('exit', (code) => reject(new Error(`successor exited with ${code} before reporting`)));
  });
}

const results = [];
const children = [];
for (let round = 0; round < rounds; round++) {
  const { child, result } = await runSuccessor();
  child.removeAllListeners('exit');
  children.push(child);
  results.push(result);
  if (round === 0) await first.handedOver();
}
for (const child of children) child.kill();
fs.rmSync(directory, { recursive: true, force: true });

const row = (label, key) => {
  const values = results.map((result) => result[key]);
  const shown = (value) => value.toFixed(2).padStart(8);
  return `${label.padEnd(44)}${shown(median(values))}${shown(Math.min(...values))}${shown(Math.max(...values))}`;
};
console.log(
  `takeover of ${count} TCP listeners, ${rounds} rounds (node ${process.version}, ${os.cpus().length} cores)`,
);
console.log(`${'from connect to…'.padEnd(44)}${'median'.padStart(8)}${'min'.padStart(8)}${'max'.padStart(8)}  (ms)`);
console.log(row('every listener received', 'received'));
console.log(row('serving (a net.Server listens on each)', 'serving'));
console.log(row('released (the old process stopped accepting)', 'released'));
console.log(row("successor's CPU time, connect → serving", 'servingCpu'));
console.log(
  `load average ${os
    .loadavg()
    .map((value) => value.toFixed(1))
    .join(' ')}: wall-clock times grow with it, CPU time less`,
);
process.exit(0);
