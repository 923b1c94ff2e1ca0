// TCPMUX (RFC 1078): two services on one port. This process opens a service registry and a tcpmux server,
// starts two services as separate processes (services.js: `echo`, and `daytime` served by an http.Server),
// each registering its name, then runs a client for each (clients.js) and asks for HELP. Everything is
// printed, closed, exit 0.
//
//   npm run build && node examples/tcpmux/main.js
//
// To keep it running and try it from a shell (PORT=7001 node examples/tcpmux/main.js --serve):
//   printf 'echo\r\nhello\n' | nc -N 127.0.0.1 7001     ->  +, then hello
//   printf 'HELP\r\n' | nc -N 127.0.0.1 7001             ->  daytime, echo
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openServiceRegistry, serveTcpmux } from '../../dist/index.js';

const serve = process.argv.includes('--serve');
const port = Number(process.env.PORT ?? 0);
const here = (file) => fileURLToPath(new URL(file, import.meta.url));

if (!serve) {
  // Nothing here takes more than a second or two; never hang a terminal or a CI job.
  setTimeout(() => {
    console.error('not done within 10 s');
    process.exit(1);
  }, 10_000).unref();
}

// 1. The registry: a socket in a private directory, which only this uid may connect to (the default).
const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-tcpmux-'));
const registryPath = path.join(directory, 'registry.sock');
const registry = await openServiceRegistry({ path: registryPath });

// 2. The tcpmux server on one TCP port: it reads the name line and hands the connection to the service.
const mux = await serveTcpmux({ listen: { host: '127.0.0.1', port }, registry });
mux.on('refuse', ({ name, error }) => console.log(`mux: refused ${name ?? '(no name)'}: ${error.message}`));
console.log(`tcpmux on 127.0.0.1:${mux.address().port}, registry at ${registryPath}`);

// 3. The services, each its own process, each registering its name.
const services = ['echo', 'daytime'].map((name) =>
  spawn(process.execPath, [here('./services.js'), name, registryPath], { stdio: ['ignore', 'pipe', 'inherit'] }),
);
await Promise.all(
  services.map(
    (child) =>
      new Promise((resolve, reject) => {
        child.stdout.once('data', resolve);
        child.once('exit', (code) => reject(new Error(`a service exited (${code}) before registering`)));
      }),
  ),
);
for (const child of services) child.stdout.pipe(process.stdout);
console.log(`registered: ${registry.names().join(', ')}`);

const stop = async () => {
  for (const child of services) child.kill();
  await mux.close();
  await registry.close();
  fs.rmSync(directory, { recursive: true, force: true });
};

if (serve) {
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
} else {
  // 4. A client for each service, and HELP.
  const client = spawn(process.execPath, [here('./clients.js'), String(mux.address().port)], { stdio: 'inherit' });
  const code = await new Promise((resolve) => client.once('exit', resolve));
  await stop();
  process.exitCode = code;
}
