// HAProxy (Debian's package) on loopback, in TCP mode in the foreground, in front of a portunus port: the
// PROXY protocol tests point its send-proxy / send-proxy-v2 servers at a router or a tcpmux server.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { within } from './within.js';
import { freePort } from './free-port.js';

/** Whether something accepts connections on 127.0.0.1:port. */
function accepting(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(socket.destroy() && true));
    socket.once('error', () => resolve(false));
  });
}

/**
 * HAProxy in TCP mode in the foreground: one frontend per `send` option ('send-proxy', 'send-proxy-v2'), each
 * to `backendPort`. Resolves with the frontends' ports and stop() once all accept; stopped at teardown anyway.
 */
export async function startHaproxy(t, backendPort, sends) {
  for (let attempt = 0; ; attempt++) {
    const ports = [];
    while (ports.length < sends.length) ports.push(await freePort());
    const config = [
      'global',
      '  maxconn 256',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 10s',
      '  timeout server 10s',
      ...sends.flatMap((send, i) => [
        `frontend in${i}`,
        `  bind 127.0.0.1:${ports[i]}`,
        `  default_backend out${i}`,
        `backend out${i}`,
        `  server router 127.0.0.1:${backendPort} ${send}`,
      ]),
    ].join('\n');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-haproxy-'));
    const file = path.join(dir, 'haproxy.cfg');
    fs.writeFileSync(file, `${config}\n`);
    const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let stopped;
    const stop = () => (stopped ??= stopChild());
    const stopChild = async () => {
      child.kill('SIGTERM');
      await within(exited, 'haproxy to exit', 10_000).catch(() => child.kill('SIGKILL'));
      child.stderr.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    };
    let up = false;
    // Until every frontend accepts, or HAProxy exits (a port taken meanwhile); bounded by within().
    await within(
      (async () => {
        while (child.exitCode === null && child.signalCode === null) {
          if ((await Promise.all(ports.map(accepting))).every(Boolean)) return (up = true);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })(),
      'haproxy to accept',
      10_000,
    );
    if (up) {
      t.teardown(stop);
      return { ports, stop };
    }
    await stop();
    if (attempt === 2) throw new Error(`haproxy did not start: ${stderr}`);
  }
}
