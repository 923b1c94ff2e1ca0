// The channel example: the parent spawns a child with a channel on descriptor 3, checks the link with a
// ping, then sends the child the read end of a pipe (a FIFO) and writes a line into the write end. The
// child reads the pipe to its end and answers with what it read. Prints each step; exits 0 on success.
//
//   npm run build && node examples/channel-ping/main.js
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { socketPairForChild } from '../../dist/index.js';

// Nothing here should take more than a few seconds; never hang a terminal or a CI job.
const deadline = setTimeout(() => fail(new Error('no answer within 10 s')), 10_000);
deadline.unref();

// 1. A socketpair: our end is already a channel, the child's end is a raw descriptor for its stdio.
const { channel, childFd, closeChildFd } = socketPairForChild();
const child = spawn(process.execPath, [fileURLToPath(new URL('./child.js', import.meta.url))], {
  stdio: ['ignore', 'inherit', 'inherit', childFd], // childFd becomes the child's descriptor 3
});
// The child has its own copy now; ours would keep the channel open after the child is gone.
closeChildFd();
const childExited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
channel.on('error', fail);

const hello = await channel.ready;
console.log(`[parent] channel ready: child pid ${hello.pid} speaks protocol ${hello.protocol}`);
console.log(`[parent] ping: ${(await channel.ping()).toFixed(3)} ms round trip`);

// 2. A pipe. Node has no pipe(2), so make a FIFO (a named pipe), open both ends and unlink the name: what
// is left is an ordinary pipe known only by its two descriptors.
const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-example-'));
const fifo = path.join(directory, 'pipe');
const made = spawnSync('mkfifo', ['-m', '0600', fifo]);
if (made.status !== 0) fail(new Error(`mkfifo failed: ${made.stderr}`));
// O_NONBLOCK lets the read end open before a writer exists.
const readEnd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
const writeEnd = fs.openSync(fifo, fs.constants.O_WRONLY);
fs.rmSync(directory, { recursive: true });

// 3. Send the read end. We keep our copy until the promise resolves (the kernel holds its own reference
// from then on), so closing it afterwards does not affect the child's.
const answer = new Promise((resolve) => channel.once('message', (message) => resolve(message.json())));
await channel.send(JSON.stringify({ op: 'read-pipe' }), [readEnd]);
fs.closeSync(readEnd);
console.log(`[parent] sent the read end of a pipe (our fd ${readEnd}, now closed here)`);

const line = `hello through a pipe from pid ${process.pid}\n`;
fs.writeSync(writeEnd, line);
fs.closeSync(writeEnd); // end of file for the reader
console.log(`[parent] wrote ${Buffer.byteLength(line)} bytes into the write end and closed it`);

// 4. The child's answer, then its exit and the channel's close.
const reply = await answer;
console.log(`[parent] child says: read ${reply.bytes} bytes from a ${reply.kind}: ${JSON.stringify(reply.text)}`);
if (reply.text !== line) fail(new Error('the child read something other than what was written'));
const exit = await childExited;
const closeError = await channel.closed;
if (exit.code !== 0 || closeError !== undefined)
  fail(closeError ?? new Error(`child exited with ${exit.code ?? exit.signal}`));
console.log('[parent] child exited 0, channel closed cleanly');

function fail(error) {
  console.error(`[parent] failed: ${error.message}`);
  child?.kill();
  process.exit(1);
}
