// Runs the handoff-listener example end to end: starts owner.js, sends requests to its port without pause,
// starts taker.js, and checks that the port changed hands with no request failing. Prints who served what;
// exits 0 on success.
//
//   npm run build && node examples/handoff-listener/demo.js
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const deadline = setTimeout(() => fail(new Error('not done within 15 s')), 15_000);
deadline.unref();

const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-handoff-'));
const socketPath = path.join(directory, 'owner.sock');
const children = [];

/** Starts an example script; resolves the first stdout line matching `pattern`. */
function start(script, pattern) {
  const child = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), socketPath], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const matched = new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      console.log(`  | ${line}`);
      const match = pattern.exec(line);
      if (match) resolve(match);
    });
    exited.then(({ code, signal }) =>
      reject(new Error(`${script} exited (${signal ?? code}) before printing ${pattern}`)),
    );
  });
  return { child, exited, matched };
}

// Any failure, including a child that dies early, ends in fail(): no child may outlive the demo.
run().catch(fail);

async function run() {
  const owner = start('./owner.js', /serving http:\/\/127\.0\.0\.1:(\d+)/);
  const port = Number((await owner.matched)[1]);

  // Fresh connections back to back, the whole time: any refused or reset connection fails the demo.
  const servedBy = { owner: 0, taker: 0 };
  let takerSeen;
  const takerAnswered = new Promise((resolve) => (takerSeen = resolve));
  let running = true;
  const load = (async () => {
    while (running) {
      const body = await get(`http://127.0.0.1:${port}/`);
      const who = /served by the (owner|taker)/.exec(body)?.[1];
      if (who === undefined) throw new Error(`unexpected answer: ${body}`);
      servedBy[who]++;
      if (who === 'taker') takerSeen();
    }
  })();
  load.catch(fail);

  await new Promise((resolve) => setTimeout(resolve, 200)); // let the owner serve a few first
  const taker = start('./taker.js', /taker: pid (\d+) serving/);
  await taker.matched;
  await takerAnswered;
  const ownerExit = await owner.exited;
  if (ownerExit.code !== 0) fail(new Error(`owner exited with ${ownerExit.signal ?? ownerExit.code}`));
  await new Promise((resolve) => setTimeout(resolve, 200)); // the taker alone now
  running = false;
  await load;

  taker.child.kill('SIGTERM');
  const takerExit = await taker.exited;
  if (takerExit.code !== 0) fail(new Error(`taker exited with ${takerExit.signal ?? takerExit.code}`));
  fs.rmSync(directory, { recursive: true, force: true });
  console.log(
    `demo: ${servedBy.owner + servedBy.taker} requests, ${servedBy.owner} served by the owner, ${servedBy.taker} by the taker, none failed`,
  );
}

function get(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

function fail(error) {
  console.error(`demo failed: ${error.message}`);
  for (const child of children) child.kill('SIGKILL');
  fs.rmSync(directory, { recursive: true, force: true });
  process.exit(1);
}
