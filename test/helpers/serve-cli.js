// Runs the real `portunus` binary for the CLI tests: `serve` as a child process with JSON logs on a port of
// its choosing and a control socket of its own (unique path), and `ctl` to completion. Every serve is
// SIGKILLed at teardown if a test left it running; its workers, in sessions of their own, exit when their
// channel to it closes, and the test waits for that too (no process left behind).
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { within } from './within.js';

export const BIN = fileURLToPath(new URL('../../bin/portunus', import.meta.url));

/** A fresh private directory for one test's control socket; removed at teardown. */
export function socketDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-cli-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** True while process `pid` exists. */
export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * Starts `portunus serve --log-format json --listen tcp://127.0.0.1:0 --socket <unique> …args -- …command`.
 * Resolves once it logged that it listens: { child, port, socket, logs (parsed lines so far), exited,
 * waitLog(predicate) }.
 */
export async function startServe(t, { args = [], command, env = {}, listen = ['tcp://127.0.0.1:0'] } = {}) {
  const socket = path.join(socketDir(t), 'control.sock');
  const argv = [
    BIN,
    'serve',
    '--log-format',
    'json',
    '--socket',
    socket,
    ...listen.flatMap((address) => ['--listen', address]),
    ...args,
    ...(command === undefined ? [] : ['--', ...command]),
  ];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  const logs = [];
  const watchers = new Set();
  let stderr = '';
  let partial = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop();
    for (const line of lines) {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      logs.push(entry);
      for (const watcher of watchers) watcher(entry);
    }
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const waitLog = (predicate, what, ms = 20_000) => {
    const seen = logs.find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    let watcher;
    return within(
      new Promise((resolve) => {
        watcher = (entry) => predicate(entry) && resolve(entry);
        watchers.add(watcher);
      }),
      what,
      ms,
    ).finally(() => watchers.delete(watcher));
  };
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await within(exited, 'portunus serve to exit').catch(() => {});
  });
  const listening = await Promise.race([
    waitLog((entry) => entry.msg === 'listening', 'serve to listen', 30_000),
    exited.then(({ code }) => {
      throw new Error(`portunus serve exited (code ${code}) before listening:\n${stderr}`);
    }),
  ]);
  const port = Number(listening.address.split(':').pop());
  return { child, port, socket, logs, exited, waitLog, stderr: () => stderr };
}

/** Runs `portunus …args` to completion: { code, stdout, stderr }. */
export function runCli(args, { timeoutMs = 30_000, env } = {}) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { timeout: timeoutMs, env: env === undefined ? process.env : { ...process.env, ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
      },
    );
  });
}

/** `portunus ctl --socket <socket> …args`. */
export function ctl(socket, ...args) {
  return runCli(['ctl', '--socket', socket, ...args]);
}

/** `portunus ctl --socket <socket> --json …args`, its answer parsed; fails the test on a non-zero exit. */
export async function ctlJson(t, socket, ...args) {
  const { code, stdout, stderr } = await ctl(socket, '--json', ...args);
  t.is(code, 0, `ctl ${args.join(' ')}: ${stderr}`);
  return JSON.parse(stdout);
}

/** curl, the real one: resolves with { code, body }. */
export function curl(port, urlPath = '/') {
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['-sS', '--max-time', '20', `http://127.0.0.1:${port}${urlPath}`],
      { timeout: 25_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : (error.code ?? null), body: stdout, stderr }),
    );
  });
}
