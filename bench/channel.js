// `npm run bench:channel`: how many file descriptors per second a channel moves from one process to
// another, against Node's own child_process.send(message, socket), in one run on this machine.
//
//   portunus send()        channel.send(payload, fds) over a socketpair channel to a spawned child
//   portunus writeFrame()  the callback form (no promise per message), same channel
//   child_process.send()   child.send('fd', socket, { keepOpen: true }) to a fork()ed child (JSON IPC)
//
// Every message carries descriptors of one real, connected loopback TCP socket (the same one every time:
// the kernel work per descriptor is that of a socket, and nothing else changes between messages). The
// portunus setups send 1 and 64 descriptors per message; Node's IPC carries one handle per message. The
// child takes what arrives and closes it, and acknowledges every ACK_EVERY messages with a small message of
// its own; the sender keeps at most WINDOW messages unacknowledged, so neither the descriptors in flight
// (the kernel counts them against the sender's RLIMIT_NOFILE) nor the queues grow without bound. A
// measurement sends for DURATION_MS, then asks for the final acknowledgement: fds/s is the number of
// descriptors the child received and closed over the time from the first send to that acknowledgement.
// CPU time per descriptor on each side comes from /proc/PID/task/*/schedstat.
//
// Each round runs every setup once, in an order that rotates between rounds, so drift favours none; ratios
// are taken within a round, medians over rounds. Knobs (environment): ROUNDS (5), DURATION_MS (2000),
// WARMUP_MS (500 per setup, not measured), IN_FLIGHT (2048: bound on descriptors sent and not acknowledged).
import { fork, spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { processCpuNs } from './lib/server-cpu.js';
import { integerEnv, median } from './lib/stats.js';

const self = fileURLToPath(import.meta.url);
const role = process.argv[2];
/** Payload of a load message: a few bytes, as an application would send (the child_process setup sends 'fd'). */
const LOAD_PAYLOAD = Buffer.from('fd');

if (role === '--receiver-portunus') {
  await portunusReceiver();
} else if (role === '--receiver-node') {
  nodeReceiver();
} else {
  await main();
}

/**
 * The portunus child. Messages with descriptors are load: close them, acknowledge every `ackEvery`. Messages
 * without are commands from the sender: { start: ackEvery } before a measurement, { end: true } after it
 * (answered with the final acknowledgement). An acknowledgement is 8 bytes: messages counted, final flag.
 */
async function portunusReceiver() {
  const { channelFromFd } = await import('../dist/index.js');
  const { closeFd } = await import('../dist/fd.js');
  const channel = channelFromFd(3);
  let ackEvery = 1;
  let unacked = 0;
  const ack = (final) => {
    const payload = Buffer.allocUnsafe(8);
    payload.writeUInt32BE(unacked, 0);
    payload.writeUInt32BE(final ? 1 : 0, 4);
    unacked = 0;
    channel.send(payload).catch(() => {}); // a closed channel ends the run below
  };
  channel.on('message', (message) => {
    if (message.fdCount > 0) {
      for (const fd of message.takeFds()) closeFd(fd);
      if (++unacked >= ackEvery) ack(false);
      return;
    }
    const command = message.json();
    if (command.start !== undefined) {
      ackEvery = command.start;
      unacked = 0;
    } else if (command.end) {
      ack(true);
    }
  });
  channel.on('close', () => process.exit(0));
}

/** The child_process child: the same protocol over Node's IPC ({ ack, final } answers). */
function nodeReceiver() {
  let ackEvery = 1;
  let unacked = 0;
  process.on('message', (message, handle) => {
    if (handle !== undefined) {
      handle.destroy();
      if (++unacked >= ackEvery) {
        process.send({ ack: unacked, final: false });
        unacked = 0;
      }
      return;
    }
    if (message.start !== undefined) {
      ackEvery = message.start;
      unacked = 0;
    } else if (message.end) {
      process.send({ ack: unacked, final: true });
      unacked = 0;
    }
  });
  process.on('disconnect', () => process.exit(0));
}

async function main() {
  const ROUNDS = integerEnv('ROUNDS', 5);
  const DURATION_MS = integerEnv('DURATION_MS', 2000);
  const WARMUP_MS = integerEnv('WARMUP_MS', 500);
  const IN_FLIGHT = integerEnv('IN_FLIGHT', 2048);

  const portunus = await import('../dist/index.js');
  const protocol = await import('../dist/protocol.js');
  const tcp = await connectedSocket();
  const fd = tcp.server._handle.fd;
  const portunusChild = await portunusPeer(portunus.socketPairForChild);
  const nodeChild = await nodeIpcPeer();

  // Window and acknowledgement interval by descriptors per message: at most IN_FLIGHT descriptors (and 256
  // messages) unacknowledged, an acknowledgement per eighth of the window.
  const flow = (fdsPerMessage) => {
    const window = Math.max(1, Math.min(256, Math.floor(IN_FLIGHT / fdsPerMessage)));
    return { window, ackEvery: Math.max(1, Math.floor(window / 8)) };
  };
  const setups = [
    { name: 'child_process.send()', fdsPerMessage: 1, peer: nodeChild, sender: nodeChild.sender(tcp.server) },
    { name: 'portunus send()', fdsPerMessage: 1, peer: portunusChild, sender: portunusChild.promiseSender([fd]) },
    {
      name: 'portunus writeFrame()',
      fdsPerMessage: 1,
      peer: portunusChild,
      sender: portunusChild.callbackSender([fd], protocol.FrameType.DATA),
    },
    {
      name: 'portunus send()',
      fdsPerMessage: 64,
      peer: portunusChild,
      sender: portunusChild.promiseSender(new Array(64).fill(fd)),
    },
  ];
  for (const setup of setups)
    Object.assign(setup, flow(setup.fdsPerMessage), { label: `${setup.name} ${setup.fdsPerMessage}` });
  const baseline = setups[0];

  // Never let a stuck child hang a terminal or a CI job.
  const limitMs = 30_000 + (ROUNDS + 1) * setups.length * (DURATION_MS + WARMUP_MS + 5_000);
  const watchdog = setTimeout(() => {
    console.error(`bench:channel: not done within ${limitMs / 1000} s`);
    process.exit(1);
  }, limitMs);
  watchdog.unref();

  const cpus = os.cpus();
  console.log(
    `bench:channel  node ${process.version}, ${cpus.length} CPUs (${cpus[0]?.model.trim()}), ${os.type()} ${os.release()}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `${ROUNDS} rounds x ${DURATION_MS} ms per setup, warm-up ${WARMUP_MS} ms, at most ${IN_FLIGHT} descriptors unacknowledged\n`,
  );

  for (const setup of setups) await measure(setup, WARMUP_MS);
  const results = new Map(setups.map((setup) => [setup, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const shift = round % setups.length;
    const order = [...setups.slice(shift), ...setups.slice(0, shift)];
    for (const setup of order) {
      const result = await measure(setup, DURATION_MS);
      results.get(setup).push(result);
      console.log(
        `round ${round + 1}  ${setup.label.padEnd(24)} ${fmtRate(result.fdsPerSecond).padStart(7)} fds/s` +
          `  cpu/fd ${fmt(result.senderCpu)} + ${fmt(result.receiverCpu)} µs`,
      );
    }
  }

  const med = (setup, key) => median(results.get(setup).map((result) => result[key]));
  // Ratios within each round, then their median: drift between rounds cancels out.
  const ratio = (setup) =>
    median(results.get(setup).map((result, i) => result.fdsPerSecond / results.get(baseline)[i].fdsPerSecond));

  console.log(`\nmedians over ${ROUNDS} rounds`);
  const columns = [
    ['setup', 24, 'left'],
    ['fds/msg', 8],
    ['msgs/s', 10],
    ['fds/s', 10],
    ['sender µs/fd', 14],
    ['receiver µs/fd', 16],
    ['vs child_process', 18],
  ];
  const row = (cells) =>
    cells
      .map((cell, i) =>
        columns[i][2] === 'left' ? String(cell).padEnd(columns[i][1]) : String(cell).padStart(columns[i][1]),
      )
      .join('');
  console.log(row(columns.map((column) => column[0])));
  for (const setup of setups) {
    console.log(
      row([
        setup.name,
        setup.fdsPerMessage,
        fmtRate(med(setup, 'fdsPerSecond') / setup.fdsPerMessage),
        fmtRate(med(setup, 'fdsPerSecond')),
        fmt(med(setup, 'senderCpu')),
        fmt(med(setup, 'receiverCpu')),
        setup === baseline ? '1.00' : ratio(setup).toFixed(2),
      ]),
    );
  }
  const one = setups[1];
  const sixtyFour = setups[3];
  console.log(`\nportunus / child_process.send(), fds per second, median of the per-round ratios:`);
  console.log(`  1 fd per message    ${ratio(one).toFixed(2)}  (aim >= 5)`);
  console.log(`  64 fds per message  ${ratio(sixtyFour).toFixed(2)}  (aim >= 15)`);

  await portunusChild.close();
  await nodeChild.close();
  tcp.close();
}

/**
 * One measurement: tell the child the acknowledgement interval, keep `window` messages in flight for
 * `durationMs`, then ask for the final acknowledgement. Returns fds/s and CPU µs per fd on each side.
 */
async function measure(setup, durationMs) {
  const { peer, sender, window, ackEvery, fdsPerMessage } = setup;
  peer.command({ start: ackEvery });
  const cpuBefore = { sender: processCpuNs(process.pid), receiver: processCpuNs(peer.pid) };
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(durationMs) * 1_000_000n;
  let sent = 0;
  let acked = 0;
  let stopping = false;
  const done = new Promise((resolve, reject) => {
    const pump = () => {
      if (stopping) return;
      while (sent - acked < window) {
        sender.send();
        sent++;
      }
      if (process.hrtime.bigint() >= deadline) {
        stopping = true;
        peer.command({ end: true });
      }
    };
    peer.onAck = (count, final) => {
      acked += count;
      if (!final) {
        pump();
      } else if (acked === sent) {
        resolve();
      } else {
        reject(new Error(`${setup.label}: sent ${sent} messages, the child acknowledged ${acked}`));
      }
    };
    peer.onFailure = reject;
    pump();
  });
  await done;
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const fds = sent * fdsPerMessage;
  peer.onAck = undefined;
  return {
    fdsPerSecond: fds / elapsed,
    senderCpu: (processCpuNs(process.pid) - cpuBefore.sender) / 1000 / fds,
    receiverCpu: (processCpuNs(peer.pid) - cpuBefore.receiver) / 1000 / fds,
  };
}

/** A connected loopback TCP socket: its accepted end (`server`, never read) is the one handed around. */
async function connectedSocket() {
  const listener = net.createServer({ pauseOnConnect: true });
  await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise((resolve) => listener.once('connection', resolve));
  const client = net.connect(listener.address().port, '127.0.0.1');
  client.on('error', () => {});
  await new Promise((resolve) => client.once('connect', resolve));
  const server = await accepted;
  return {
    server,
    close() {
      server.destroy();
      client.destroy();
      listener.close();
    },
  };
}

/** The portunus child and the two ways of sending to it. */
async function portunusPeer(socketPairForChild) {
  const { channel, childFd, closeChildFd } = socketPairForChild();
  const child = spawn(process.execPath, [self, '--receiver-portunus'], {
    stdio: ['ignore', 'inherit', 'inherit', childFd],
  });
  closeChildFd();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await channel.ready;
  const peer = {
    pid: child.pid,
    onAck: undefined,
    onFailure: undefined,
    command: (command) => channel.send(JSON.stringify(command)).catch((error) => peer.onFailure?.(error)),
    promiseSender: (fds) => ({
      send: () => channel.send(LOAD_PAYLOAD, fds).catch((error) => peer.onFailure?.(error)),
    }),
    callbackSender: (fds, type) => {
      const done = (error) => {
        if (error !== undefined) peer.onFailure?.(error);
      };
      return { send: () => channel.writeFrame(type, LOAD_PAYLOAD, fds, done) };
    },
    async close() {
      await channel.close();
      await exited;
    },
  };
  channel.on('message', (message) =>
    peer.onAck?.(message.payload.readUInt32BE(0), message.payload.readUInt32BE(4) === 1),
  );
  channel.on('close', (error) => peer.onFailure?.(error ?? new Error('portunus channel closed')));
  return peer;
}

/** The child_process child: fork() with an IPC channel (JSON serialisation, Node's default). */
async function nodeIpcPeer() {
  const child = fork(self, ['--receiver-node'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise((resolve) => child.once('spawn', resolve));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  // One child.send() at a time, the next one from the callback of the previous. Node holds every message
  // behind a handle until the child's NODE_HANDLE_ACK for it, and re-queues its whole queue at each
  // acknowledgement: handing it the full window at once cost the sender about 1.6x the CPU per handle here,
  // for no more handles per second. Commands go through the same queue so that they stay behind the handles
  // sent before them.
  const queue = [];
  let writing = false;
  const written = (error) => {
    writing = false;
    if (error) peer.onFailure?.(error);
    else if (queue.length > 0) write();
  };
  const write = () => {
    writing = true;
    const [message, handle] = queue.shift();
    if (handle === undefined) child.send(message, written);
    else child.send(message, handle, { keepOpen: true }, written); // keepOpen: the socket goes out again and again
  };
  const enqueue = (message, handle) => {
    queue.push([message, handle]);
    if (!writing) write();
  };
  const peer = {
    pid: child.pid,
    onAck: undefined,
    onFailure: undefined,
    command: (command) => enqueue(command),
    sender: (socket) => ({ send: () => enqueue('fd', socket) }),
    async close() {
      child.disconnect();
      await exited;
    },
  };
  child.on('message', (message) => peer.onAck?.(message.ack, message.final));
  child.on('exit', () => peer.onFailure?.(new Error('child_process child exited')));
  return peer;
}

function fmt(microseconds) {
  return microseconds >= 100
    ? microseconds.toFixed(0)
    : microseconds >= 10
      ? microseconds.toFixed(1)
      : microseconds.toFixed(2);
}

function fmtRate(rate) {
  return rate >= 10_000 ? `${(rate / 1000).toFixed(1)}k` : rate.toFixed(0);
}
