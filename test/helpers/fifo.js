// A real pipe for descriptor-passing tests. Node has no pipe(2), so this makes a FIFO with mkfifo(1) in a
// private temporary directory, opens both ends and removes the name: what is left is an anonymous pipe
// in all but origin. Both descriptors are close-on-exec (Node opens files that way), so no spawned child
// inherits a write end by accident and holds EOF back.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Resolves with { readFd, writeFd }; the caller owns and closes both. */
export async function openFifo() {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-fifo-'));
  try {
    const file = path.join(directory, 'fifo');
    // stdio 'ignore': a child spawned with pipes makes this process keep a /dev/null descriptor open for
    // good, which the first leak check would count.
    const mkfifo = spawn('mkfifo', ['-m', '600', file], { stdio: 'ignore' });
    const [code, signal] = await new Promise((resolve, reject) => {
      mkfifo.once('error', reject);
      mkfifo.once('exit', (...status) => resolve(status));
    });
    if (code !== 0) throw new Error(`mkfifo exited with ${code ?? signal}`);
    // Opening the read end first, non-blocking, lets the write end open without waiting for a reader.
    const readFd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const writeFd = fs.openSync(file, fs.constants.O_WRONLY);
    return { readFd, writeFd };
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

/**
 * Reads `fd` until EOF, taking ownership (it is closed at the end); resolves with everything read. A
 * net.Socket, because the read end is non-blocking and fs streams would see EAGAIN.
 */
export function readToEnd(fd) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const stream = new net.Socket({ fd, readable: true, writable: false });
    stream.on('data', (chunk) => chunks.push(chunk));
    stream.on('error', reject);
    stream.on('close', () => resolve(Buffer.concat(chunks)));
  });
}
