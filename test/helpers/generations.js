// Runs generations of test/fixtures/takeover-generation.js, a server that upgrades itself, and follows
// what each reports on stdout (JSON lines). Every generation is SIGKILLed at teardown if still running,
// and the private directory holding the takeover and Unix socket files is removed.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fixture, within } from './http-load.js';

/** A fresh 0700 directory for one test's socket files, removed at teardown. */
export function socketDirectory(t) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-takeover-'));
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/**
 * Starts one generation with `env` added to this process's. Returns { child, pid, exited, next(event) }:
 * `next` resolves with (and consumes) the first report of that event, past or future.
 */
export function startGeneration(t, env) {
  const child = spawn(process.execPath, [fixture('takeover-generation.js')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const reports = [];
  const waiters = new Set();
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      reports.push(JSON.parse(buffered.slice(0, newline)));
      buffered = buffered.slice(newline + 1);
      for (const waiter of [...waiters]) waiter();
    }
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await within(exited, `generation ${env.GENERATION} to exit`).catch(() => {});
  });
  const next = (event, ms = 20_000) => {
    const found = new Promise((resolve) => {
      const check = () => {
        const index = reports.findIndex((report) => report.event === event);
        if (index < 0) return;
        waiters.delete(check);
        resolve(reports.splice(index, 1)[0]);
      };
      waiters.add(check);
      check();
    });
    return within(found, `generation ${env.GENERATION} to report '${event}' (reports: ${JSON.stringify(reports)})`, ms);
  };
  return { child, pid: child.pid, exited, next, reports };
}

/**
 * Keeps clients busy until stop() is called (at the test's teardown at the latest): `lanes` new-connection clients and `lanes` keep-alive clients
 * on TCP `port`, and one client on `unixPath` if given. Every answer is tallied by the generation that gave it;
 * every failure (refused, reset, non-200, timeout) is kept. stop() resolves with { ok, failed, errors,
 * byGeneration }.
 */
export function keepLoading(t, { port, unixPath, lanes = 4 }) {
  const result = { ok: 0, failed: 0, errors: [], byGeneration: {} };
  let stopped = false;
  const agent = new http.Agent({ keepAlive: true, maxSockets: lanes });
  const tally = (answer) => {
    if (answer.status !== 200) throw new Error(`status ${answer.status}`);
    result.ok++;
    result.byGeneration[answer.generation] = (result.byGeneration[answer.generation] ?? 0) + 1;
  };
  const fail = (error) => {
    result.failed++;
    if (result.errors.length < 5) result.errors.push(error.message);
  };
  const lane = async (ask) => {
    while (!stopped) {
      try {
        tally(await ask());
      } catch (error) {
        fail(error);
      }
    }
  };
  const tcp = (options) => () => requestGeneration({ port, ...options });
  const running = [
    ...Array.from({ length: lanes }, () => lane(tcp({ agent: false }))),
    ...Array.from({ length: lanes }, () => lane(tcp({ agent }))),
  ];
  if (unixPath !== undefined) running.push(lane(() => requestGeneration({ socketPath: unixPath, agent: false })));
  const stop = async () => {
    stopped = true;
    await Promise.all(running);
    agent.destroy();
    return result;
  };
  // A test that fails half-way must not leave clients running (the test process would never exit).
  t.teardown(stop);
  return { result, stop };
}

/** One GET over TCP `port` or Unix `socketPath`; resolves with { status, generation }. */
export function requestGeneration({ port, socketPath, agent = false, timeoutMs = 10_000 }) {
  return new Promise((resolve, reject) => {
    const headers = agent === false ? { connection: 'close' } : {};
    const target = socketPath === undefined ? { host: '127.0.0.1', port } : { socketPath };
    const req = http.request({ ...target, path: '/', agent, headers }, (res) => {
      res.resume();
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode, generation: res.headers['x-generation'] }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Sends one datagram to 127.0.0.1:`port` and resolves with the answer, as a string. */
export async function askUdp(port) {
  const socket = dgram.createSocket('udp4');
  try {
    const answer = new Promise((resolve) => socket.once('message', (message) => resolve(message.toString())));
    socket.send('who', port, '127.0.0.1');
    return await within(answer, 'a UDP answer', 5000);
  } finally {
    socket.close();
  }
}
