// Connections each worker of a benchmark server took, read through the SIGUSR2 hook of
// servers/trivial-http.js: the harness signals every worker, each writes its count to a file named after its
// pid in the directory given to it as BENCH_COUNTS_DIR. Bounded: a worker that does not answer within 2 s
// (a killed one) counts as missing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sleep } from './server-process.js';

/** A private directory for the counts of one run; removed at exit. */
export function countsDirectory() {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-bench-counts-'));
  process.once('exit', () => fs.rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/** Resolves with each worker's connection count so far (undefined for a worker that did not answer). */
export async function connectionCounts(directory, pids) {
  const files = pids.map((pid) => path.join(directory, String(pid)));
  for (const file of files) fs.rmSync(file, { force: true });
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGUSR2');
    } catch {
      // Gone (the kill scenario): no count.
    }
  }
  for (let waited = 0; waited < 2000 && !files.every((file) => fs.existsSync(file)); waited += 20) await sleep(20);
  return files.map((file) => (fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8')) : undefined));
}

/** The busiest worker's count over the idlest one's (1 is even), from counts before and after a run. */
export function connectionSpread(before, after) {
  const taken = after.map((count, index) => (count ?? NaN) - (before[index] ?? NaN));
  if (taken.length < 2 || taken.some((count) => !Number.isFinite(count))) return NaN;
  return Math.max(...taken) / Math.max(1, Math.min(...taken));
}
