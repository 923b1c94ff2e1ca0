// Shared setup of the tcpmux tests: a registry and a tcpmux server in this process (closed at teardown),
// registrants in their own processes (test/fixtures/mux-register-service.js, python-registrant.py), and a
// raw TCP client that sends bytes and collects everything the server sends until it closes.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openServiceRegistry, serveTcpmux } from '../../dist/index.js';
import { findPython, startPythonPeer } from './python-peer.js';
import { within } from './within.js';

const NODE_REGISTRANT = fileURLToPath(new URL('../fixtures/mux-register-service.js', import.meta.url));
const PYTHON_REGISTRANT = fileURLToPath(new URL('../fixtures/python-registrant.py', import.meta.url));

export const python = findPython('import socket, json, struct');

/** A registry on a unique socket path and a tcpmux server on 127.0.0.1, port 0; both closed at teardown. */
export async function startMux(t, { registry: registryOptions = {}, ...muxOptions } = {}) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-mux-'));
  const registryPath = path.join(directory, 'registry.sock');
  const registry = await openServiceRegistry({ path: registryPath, ...registryOptions });
  const mux = await serveTcpmux({ listen: { host: '127.0.0.1', port: 0 }, registry, ...muxOptions });
  const close = async () => {
    await mux.close();
    await registry.close();
  };
  t.teardown(async () => {
    await close();
    fs.rmSync(directory, { recursive: true, force: true });
  });
  return { registry, mux, port: mux.address().port, registryPath, close };
}

/**
 * A registrant process (Node) for `name` that answers each connection with "<tag>\n" and echoes; resolves
 * once it is registered. Its progress events are those of python-peer.js (the helper runs any program).
 */
export async function startRegistrant(t, registryPath, name, tag) {
  const peer = startPythonPeer(t, process.execPath, [NODE_REGISTRANT, registryPath, name, tag]);
  await peer.event('registered');
  return peer;
}

/** A registrant in Python that dies on its first connection ('exit') or holds it unanswered ('hold'). */
export async function startPythonRegistrant(t, registryPath, name, mode) {
  const peer = startPythonPeer(t, python, [PYTHON_REGISTRANT, registryPath, name, mode]);
  await peer.event('registered');
  return peer;
}

/** Kills a registrant process and waits until it has exited and its pipes are closed. */
export async function stopRegistrant(peer) {
  peer.child.kill('SIGKILL');
  await peer.exited();
}

/**
 * Connects, writes `chunks` (a string, or strings written `gapMs` apart), and resolves with everything the
 * server sent (latin1) once it closes the connection.
 */
export function rawExchange(port, chunks, { gapMs = 0, what = 'the server to answer and close' } = {}) {
  const socket = net.connect({ host: '127.0.0.1', port });
  const received = [];
  socket.on('data', (chunk) => received.push(chunk));
  const closed = new Promise((resolve, reject) => {
    socket.once('close', () => resolve(Buffer.concat(received).toString('latin1')));
    socket.once('error', reject);
  });
  (async () => {
    for (const chunk of [chunks].flat()) {
      if (socket.destroyed) return;
      socket.write(chunk);
      if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
  })();
  return within(closed, what);
}

/** Reads from `socket` until `count` bytes arrived; resolves with them (latin1). */
export function readBytes(socket, count, what = `${count} bytes`) {
  const received = [];
  let length = 0;
  return within(
    new Promise((resolve, reject) => {
      const onData = (chunk) => {
        received.push(chunk);
        length += chunk.length;
        if (length >= count) {
          socket.off('data', onData);
          resolve(Buffer.concat(received).toString('latin1'));
        }
      };
      socket.on('data', onData);
      socket.once('error', reject);
    }),
    what,
  );
}
