// Two versions of a server replacing each other while curl keeps asking: version 1 starts, version 2 takes
// over from it, version 3 (the same code again) from version 2. Prints who answered and how many requests
// failed (none should), then stops everything. Needs curl.
//
//   node examples/takeover/demo.js
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const serverScript = fileURLToPath(new URL('server.js', import.meta.url));
const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-takeover-demo-'));
const socketPath = path.join(directory, 'app.sock');
const port = await new Promise((resolve) => {
  const probe = net.createServer().listen(0, '127.0.0.1', () => {
    const { port: free } = probe.address();
    probe.close(() => resolve(free));
  });
});

const servers = [];
function start(version) {
  const child = spawn(process.execPath, [serverScript, socketPath, String(port)], {
    env: { ...process.env, SERVER_VERSION: String(version) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  servers.push(child);
  child.stdout.setEncoding('utf8');
  let output = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      output += chunk;
      if (output.includes('serving http')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`version ${version} exited with ${code} before serving`)));
  });
}

const answers = {};
let failures = 0;
let stopped = false;
async function curlLoop() {
  while (!stopped) {
    const { code, stdout } = await new Promise((resolve) => {
      const curl = spawn('curl', ['-fsS', '--max-time', '5', `http://127.0.0.1:${port}/`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      curl.stdout.on('data', (chunk) => (text += chunk));
      curl.once('close', (exitCode) => resolve({ code: exitCode, stdout: text }));
    });
    if (code !== 0) failures++;
    else {
      const version = stdout.split(',')[0];
      answers[version] = (answers[version] ?? 0) + 1;
    }
  }
}

const exited = (child) => new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
try {
  const first = await start(1);
  const loops = Array.from({ length: 4 }, curlLoop);
  await pause(1000);
  await start(2);
  await exited(first);
  await pause(1000);
  await start(3);
  await exited(servers[1]);
  await pause(1000);
  stopped = true;
  await Promise.all(loops);
} finally {
  for (const child of servers) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(servers.map(exited));
  fs.rmSync(directory, { recursive: true, force: true });
}
console.log(`answers: ${JSON.stringify(answers)}; failed requests: ${failures}`);
process.exit(failures === 0 && Object.keys(answers).length === 3 ? 0 : 1);
