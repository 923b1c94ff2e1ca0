/**
 * A worker's stderr as the pool sees it: passed on to this process's stderr (unless the pool was told to
 * ignore it) and its last lines kept, so that a worker that fails to start can be reported with what it said.
 * Forwarding writes through an fs stream (libuv's thread pool) rather than `process.stderr`, which writes
 * pipes synchronously on Linux: a slow reader of the master's stderr must stall the chatty worker, never the
 * master's event loop.
 * @module
 */
import fs from 'node:fs';
import type { Readable } from 'node:stream';

/** Bytes of a worker's stderr kept for its failure report. */
const TAIL_BYTES = 4096;
/** Lines of it shown in the report. */
const TAIL_LINES = 20;

let sharedOutput: fs.WriteStream | undefined;
const pausedInputs = new Set<Readable>();

/** One stream on descriptor 2 for every worker, left open when the pool is done with it. */
function output(): fs.WriteStream {
  if (sharedOutput === undefined) {
    sharedOutput = fs.createWriteStream('', { fd: 2, autoClose: false });
    sharedOutput.on('drain', () => {
      for (const input of pausedInputs) input.resume();
      pausedInputs.clear();
    });
    // This process's stderr went away: workers' output has nowhere to go, and must not crash the master.
    sharedOutput.on('error', () => {});
  }
  return sharedOutput;
}

export class StderrTail {
  #chunks: Buffer[] = [];
  /** Bytes in #chunks. */
  #bytes = 0;
  /** Older output was dropped, so the first chunk kept may start mid-line. */
  #cut = false;
  readonly #ended: Promise<void>;

  /** Reads `input` to its end; passes it on to this process's stderr when `forward` is true. */
  constructor(input: Readable, forward: boolean) {
    this.#ended = new Promise((resolve) => {
      input.once('end', resolve);
      input.once('close', resolve);
      input.once('error', resolve);
    });
    input.on('data', (chunk: Buffer) => {
      this.#keep(chunk);
      if (forward && !output().write(chunk)) {
        input.pause();
        pausedInputs.add(input);
      }
    });
    input.once('close', () => pausedInputs.delete(input));
  }

  /** Resolves once the stream ended, or after `ms` (a grandchild may hold the pipe open). */
  settled(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    return Promise.race([this.#ended, late]).finally(() => clearTimeout(timer));
  }

  /** The last lines written, without trailing blank lines. */
  lines(): string {
    const text = Buffer.concat(this.#chunks).toString('utf8');
    const lines = text.split(/\r?\n/);
    // The first line may have been cut by the byte limit; keep it only when all of the output is here.
    if (this.#cut) lines.shift();
    while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
    return lines.slice(-TAIL_LINES).join('\n');
  }

  #keep(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    while (this.#bytes - this.#chunks[0]!.length >= TAIL_BYTES) {
      this.#bytes -= this.#chunks.shift()!.length;
      this.#cut = true;
    }
  }
}
