// Connection handoff: this process accepts TCP connections, reads each request head to see where it goes,
// and hands the connection, with the bytes it read, to a separate process that serves it (server.js). It then
// plays the client too: two requests, the answers printed, everything closed, exit 0.
//
//   npm run build && node examples/handoff-connection/main.js
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { distributeTransport, socketPairForChild } from '../../dist/index.js';

// Nothing here takes more than a second or two; never hang a terminal or a CI job.
const deadline = setTimeout(() => fail(new Error('not done within 10 s')), 10_000);
deadline.unref();

// 1. The serving process, with a channel on its descriptor 3.
const { channel, childFd, closeChildFd } = socketPairForChild();
const child = spawn(process.execPath, [fileURLToPath(new URL('./server.js', import.meta.url))], {
  stdio: ['ignore', 'inherit', 'inherit', childFd],
});
closeChildFd(); // the child has its copy; ours would keep the channel open after the child died
const childExited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
channel.on('error', fail);
await channel.ready;

// 2. The acceptor. pauseOnConnect: Node reads nothing until we ask, so the only bytes consumed here are the
// ones we read on purpose, and they go along as preRead.
const handoffs = new Set();
const acceptor = net.createServer({ pauseOnConnect: true }, (socket) => {
  const handoff = handOff(socket);
  handoffs.add(handoff);
  handoff.finally(() => handoffs.delete(handoff));
});

async function handOff(socket) {
  const from = `port ${socket.remotePort}`;
  let head;
  try {
    head = await readRequestHead(socket);
  } catch (error) {
    console.error(`[acceptor] ${from}: ${error.message}`);
    socket.destroy();
    return;
  }
  const [method, target] = head.toString('latin1').split(' ', 2);
  try {
    const { id } = await distributeTransport(channel, socket, {
      preRead: head,
      metadata: { acceptedBy: process.pid, route: target.startsWith('/api/') ? 'api' : 'static' },
    });
    // Acknowledged: our descriptor is closed already; the client is talking to the other process.
    console.log(`[acceptor] ${method} ${target} from ${from} handed off as transport ${id}`);
  } catch (error) {
    console.error(`[acceptor] ${method} ${target} from ${from} not handed off: ${error.message}`);
    // A refusal leaves the socket ours, untouched: answer it here. If the channel closed before the answer,
    // the other side may have adopted it already, so do not serve it twice: drop it.
    if (error.code === 'ERR_PORTUNUS_CHANNEL_CLOSED') socket.destroy();
    else socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  }
}
await new Promise((resolve) => acceptor.listen(0, '127.0.0.1', resolve));
const { port } = acceptor.address();
console.log(`[acceptor] pid ${process.pid} listening on http://127.0.0.1:${port}, serving process is pid ${child.pid}`);

// 3. The client.
for (const target of ['/api/hello', '/index.html']) {
  const answer = await get(`http://127.0.0.1:${port}${target}`);
  console.log(`[client] GET ${target} -> ${answer.status}: ${answer.body.trim()}`);
}

// 4. Done: stop accepting, let the last ACKs arrive (the client can have its answer before we have ours),
// close the channel (the child exits when it sees the end), wait for it.
acceptor.close();
await Promise.all(handoffs);
await channel.close();
const exit = await childExited;
if (exit.code !== 0) fail(new Error(`serving process exited with ${exit.signal ?? exit.code}`));
console.log('[acceptor] done');

/**
 * Reads until the end of the HTTP request head and stops reading. Returns every byte read: with a body
 * sent at once that is more than the head, and all of it must travel with the socket.
 */
function readRequestHead(socket) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const onData = (chunk) => {
      chunks.push(chunk);
      const bytes = Buffer.concat(chunks);
      if (bytes.includes('\r\n\r\n')) {
        socket.pause();
        socket.off('data', onData);
        socket.off('error', reject);
        resolve(bytes);
      } else if (bytes.length > 16 * 1024) {
        reject(new Error('request head larger than 16 KiB'));
      }
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.resume();
  });
}

function get(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode, body }));
      })
      .on('error', reject);
  });
}

function fail(error) {
  console.error(`[acceptor] failed: ${error.message}`);
  child?.kill();
  process.exit(1);
}
