// Interop: a Python process written from docs/protocol.md alone (test/fixtures/python-transport-peer.py)
// accepts a TCP connection, reads the request head, and hands the connection over a channel to this process,
// which serves it with a plain http.Server. Checks that metadata and pre-read bytes arrive, that bytes the
// client sends after the handoff follow the pre-read ones, and that a refused handoff leaves the connection
// with Python, alive.
import test from 'ava';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { adoptTransport, listenChannel, socketPairForChild } from '../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../helpers/fd-count.js';
import { findPython, startPythonPeer } from '../helpers/python-peer.js';

const PEER = fileURLToPath(new URL('../fixtures/python-transport-peer.py', import.meta.url));
const STEP_MS = 10_000;

const python = findPython('import socket; socket.CMSG_SPACE');

/** Starts the Python peer with `args`. */
function startPeer(t, args, stdio = ['ignore', 'pipe', 'pipe']) {
  if (python === undefined) throw new Error('python3 is required for the interop tests');
  return startPythonPeer(t, python, [PEER, ...args], { stdio });
}
// On CI a missing Python is a failure, not a skip: the interop claim would go untested.
const pythonTest = python !== undefined || process.env.CI === 'true' ? test.serial : test.skip;

/** Rejects after `ms` with a message naming what did not happen. */
function within(promise, what, ms = STEP_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A raw HTTP client, so that the exact bytes sent are known; resolves with everything the server wrote. */
function rawClient(port) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  const chunks = [];
  socket.on('data', (chunk) => chunks.push(chunk));
  const response = within(
    new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.once('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    }),
    'the HTTP response',
  );
  const connected = within(new Promise((resolve) => socket.once('connect', resolve)), 'the TCP connection');
  return { socket, response, connected };
}

function bodyOf(response) {
  const [head, ...body] = response.split('\r\n\r\n');
  return { statusLine: head.split('\r\n')[0], body: body.join('\r\n\r\n') };
}

pythonTest(
  'a Python peer hands a TCP connection, its pre-read request head and metadata over a listened channel; Node serves it',
  async (t) => {
    const before = openFdCount();
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-interop-'));
    const socketPath = path.join(directory, 'channel.sock');
    const channelServer = await listenChannel(socketPath);
    const incoming = within(
      new Promise((resolve) => channelServer.once('channel', resolve)),
      'the Python peer to connect',
    );

    const metadata = { route: 'api', tenant: 42, tags: ['a', 'ü'] };
    const peer = startPeer(t, ['--path', socketPath, '--metadata', JSON.stringify(metadata)]);
    const channel = await incoming;
    t.is((await channel.ready).protocol, 1);
    const { port } = await peer.event('listening');

    // The handler sees the request exactly as the client sent it: the head from the pre-read bytes, the body
    // from the kernel, sent only after the handoff.
    const httpServer = http.createServer((request, response) => {
      const body = [];
      request.on('data', (chunk) => body.push(chunk));
      request.on('end', () => {
        response.setHeader('connection', 'close');
        response.end(
          JSON.stringify({
            method: request.method,
            url: request.url,
            test: request.headers['x-test'],
            body: Buffer.concat(body).toString(),
          }),
        );
      });
    });
    const adopted = adoptTransport(channel);

    const client = rawClient(port);
    await client.connected;
    const head =
      'POST /hello?x=1 HTTP/1.1\r\nHost: localhost\r\nX-Test: interop\r\nContent-Length: 11\r\nConnection: close\r\n\r\n';
    client.socket.write(head);

    const transport = await within(adopted, 'the adopted transport');
    t.is(transport.kind, 'tcp');
    t.deepEqual(transport.metadata, metadata);
    t.is(transport.preRead.toString('latin1'), head);
    t.is(transport.family, 'IPv4');
    t.is(transport.localPort, port);
    t.is(transport.remotePort, client.socket.localPort);
    t.is(transport.socket.remotePort, client.socket.localPort);

    await peer.event('acked');
    // Python has closed its copy; these bytes can only reach the adopter's socket, after the pre-read ones.
    client.socket.write('hello world');
    httpServer.emit('connection', transport.socket);

    const { statusLine, body } = bodyOf(await client.response);
    t.is(statusLine, 'HTTP/1.1 200 OK');
    t.deepEqual(JSON.parse(body), { method: 'POST', url: '/hello?x=1', test: 'interop', body: 'hello world' });

    await peer.event('done');
    const exit = await within(peer.closed, 'the Python peer to exit');
    t.deepEqual(exit, { code: 0, signal: null }, peer.stderr());

    await channel.close();
    await channelServer.close();
    httpServer.close();
    fs.rmSync(directory, { recursive: true, force: true });
    await assertNoFdLeak(t, before);
  },
);

pythonTest(
  'an envelope that lies about the socket is refused with ERR_PORTUNUS_ENVELOPE_MISMATCH and the connection stays with its sender',
  async (t) => {
    const before = openFdCount();
    const { channel, childFd, closeChildFd } = socketPairForChild();
    const peer = startPeer(t, ['--fd', '3', '--lie', 'local-port'], ['ignore', 'pipe', 'pipe', childFd]);
    closeChildFd();
    const warnings = [];
    channel.on('warning', (error) => warnings.push(error));
    channel.on('transport', (adopted) => {
      t.fail(`adopted a transport whose envelope lied: ${JSON.stringify(adopted.metadata)}`);
      adopted.socket.destroy();
    });
    await within(channel.ready, "the Python peer's HELLO");
    const { port } = await peer.event('listening');

    const client = rawClient(port);
    await client.connected;
    client.socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');

    const nacked = await peer.event('nacked');
    t.is(nacked.code, 'ERR_PORTUNUS_ENVELOPE_MISMATCH');
    t.regex(nacked.message, /localPort/);
    t.true(warnings.some((error) => error.code === 'ERR_PORTUNUS_ENVELOPE_MISMATCH'));

    // Refused, the connection is still Python's, unharmed: it answers the request itself.
    const { statusLine, body } = bodyOf(await client.response);
    t.is(statusLine, 'HTTP/1.1 200 OK');
    t.is(body, 'served by the Python peer: ERR_PORTUNUS_ENVELOPE_MISMATCH\n');

    const exit = await within(peer.closed, 'the Python peer to exit');
    t.deepEqual(exit, { code: 0, signal: null }, peer.stderr());
    await channel.close();
    await assertNoFdLeak(t, before);
  },
);

pythonTest(
  'a handoff nobody adopts is refused with ERR_PORTUNUS_HANDOFF_REFUSED and the sender still serves the connection',
  async (t) => {
    const before = openFdCount();
    const { channel, childFd, closeChildFd } = socketPairForChild();
    const peer = startPeer(t, ['--fd', '3'], ['ignore', 'pipe', 'pipe', childFd]);
    closeChildFd();
    await within(channel.ready, "the Python peer's HELLO");
    const { port } = await peer.event('listening');

    const client = rawClient(port);
    await client.connected;
    client.socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');

    t.is((await peer.event('nacked')).code, 'ERR_PORTUNUS_HANDOFF_REFUSED');
    t.is(bodyOf(await client.response).body, 'served by the Python peer: ERR_PORTUNUS_HANDOFF_REFUSED\n');
    t.deepEqual(await within(peer.closed, 'the Python peer to exit'), { code: 0, signal: null }, peer.stderr());
    await channel.close();
    await assertNoFdLeak(t, before);
  },
);
