// Batched handoff: when one turn of the accept loop yields several connections, the master sends them to a
// worker in one TRANSPORT frame, hence one sendmsg carrying all their descriptors. A Python client opens
// 20 connections while this process (the master) is kept busy, so the kernel completes them all before the
// dispatcher accepts any; then every one is answered.
import test from 'ava';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { servePool, stopServing, waitFor } from '../../helpers/http-load.js';

const TRANSPORT = 0x10;
const CONNECTIONS = 20;

const CLIENT = `
import socket, sys
port, flag, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
socks = [socket.create_connection(('127.0.0.1', port), timeout=20) for _ in range(count)]
open(flag, 'w').close()
for s in socks:
    s.sendall(b'GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')
ok = 0
for s in socks:
    data = b''
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    ok += data.startswith(b'HTTP/1.1 200')
print(ok)
`;

/** Blocks this event loop until `file` exists (at most `ms`), as a busy master would be. */
function busyUntilExists(file, ms) {
  const deadline = Date.now() + ms;
  while (!fs.existsSync(file)) if (Date.now() > deadline) throw new Error(`${file} did not appear within ${ms} ms`);
}

test.serial('connections accepted in one turn reach the worker in one TRANSPORT frame (one sendmsg)', async (t) => {
  const before = openFdCount();
  const serving = await servePool(t, 'worker-http.js', { min: 1, max: 1 });
  const [worker] = serving.pool.workers;
  const fdsPerFrame = [];
  const writeFrame = worker.channel.writeFrame;
  worker.channel.writeFrame = function (type, payload, attachments, done) {
    if (type === TRANSPORT) fdsPerFrame.push(attachments.length);
    return writeFrame.call(this, type, payload, attachments, done);
  };

  const flag = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-batch-')), 'connected');
  t.teardown(() => fs.rmSync(path.dirname(flag), { recursive: true, force: true }));
  const client = new Promise((resolve, reject) => {
    execFile(
      'python3',
      ['-c', CLIENT, String(serving.port), flag, String(CONNECTIONS)],
      { timeout: 30_000 },
      (error, stdout) => (error ? reject(error) : resolve(stdout.trim())),
    );
  });
  busyUntilExists(flag, 20_000);
  t.is(await client, String(CONNECTIONS), 'every connection was answered');

  t.deepEqual(fdsPerFrame, [CONNECTIONS], `descriptors per TRANSPORT frame: ${fdsPerFrame.join(', ')}`);
  await waitFor(() => serving.dispatcher.stats().inFlight === 0, 'the acknowledgements');
  t.like(serving.dispatcher.stats(), { accepted: CONNECTIONS, handedOff: CONNECTIONS, dropped: 0 });
  delete worker.channel.writeFrame;
  await stopServing(serving);
  await assertNoFdLeak(t, before);
});
