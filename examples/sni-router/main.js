// One TLS port, two services chosen by server name: `node examples/sni-router/main.js`. Makes a certificate
// for alpha.localhost and one for beta.localhost (openssl CLI), starts a pool for each (./service.js), and a
// router on 127.0.0.1:PORT (8443; 0 for any) that reads each ClientHello and hands the connection to the
// pool of its name. It then asks both names and an unknown one, prints the answers, and stops; with
// SERVE=1 it keeps serving until Ctrl-C (try: curl -k --resolve alpha.localhost:8443:127.0.0.1
// https://alpha.localhost:8443/).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { WorkerPool, serveRouter, shutdownOnSignals } from '../../dist/index.js';

const NAMES = ['alpha.localhost', 'beta.localhost'];
const port = Number(process.env.PORT ?? 8443);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sni-router-'));

function certificate(host) {
  const key = path.join(dir, `${host}.key`);
  const cert = path.join(dir, `${host}.pem`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'].concat([
      '-subj',
      `/CN=${host}`,
      '-addext',
      `subjectAltName=DNS:${host}`,
      '-keyout',
      key,
      '-out',
      cert,
    ]),
    { stdio: 'ignore' },
  );
  return { key, cert };
}

const certificates = Object.fromEntries(NAMES.map((host) => [host, certificate(host)]));
const pools = Object.fromEntries(
  NAMES.map((host) => [
    host,
    new WorkerPool({
      args: [fileURLToPath(new URL('./service.js', import.meta.url))],
      min: 1,
      max: 2,
      env: {
        SERVICE_NAME: host.split('.')[0],
        SERVICE_KEY: certificates[host].key,
        SERVICE_CERT: certificates[host].cert,
      },
    }),
  ]),
);
const router = await serveRouter({
  listen: { host: '127.0.0.1', port },
  pools,
  routes: NAMES.map((host) => ({ host, protocol: 'tls', to: host })),
});
const address = router.address();
console.log(`router on ${address.address}:${address.port}: ${NAMES.join(', ')}`);

/** One request over TLS with `servername`, checked against that name's certificate. */
function ask(servername) {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: address.port,
      servername,
      ca: certificates[servername] ? fs.readFileSync(certificates[servername].cert) : undefined,
      rejectUnauthorized: certificates[servername] !== undefined,
    });
    let text = '';
    socket.on('secureConnect', () =>
      socket.end(`GET /hello HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`),
    );
    socket.on('data', (chunk) => (text += chunk));
    socket.on('error', (error) => resolve(`error: ${error.code ?? error.message}`));
    socket.on('close', () => resolve(text.slice(text.indexOf('\r\n\r\n') + 4).trim() || '(closed)'));
  });
}

async function stop() {
  await router.close({ timeoutMs: 2000 });
  await Promise.all(Object.values(pools).map((pool) => pool.close()));
  fs.rmSync(dir, { recursive: true, force: true });
}

if (process.env.SERVE === '1') {
  shutdownOnSignals([router, ...Object.values(pools)], { timeoutMs: 2000 });
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
} else {
  for (const name of [...NAMES, 'gamma.localhost']) console.log(`${name}: ${await ask(name)}`);
  console.log('routing:', JSON.stringify(router.stats().routing));
  await stop();
}
