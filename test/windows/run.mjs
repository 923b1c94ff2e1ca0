// The Windows lane's test runner (run by node.exe under wine from .ci/windows-lane.sh). ava is not used
// there: its worker processes and terminal handling add minutes under wine and it needs stdout to be a
// terminal or a pipe, where wine's node.exe is reliable only with stdout in a file. Each *.win.mjs file
// exports `tests`, a list of { name, run(t) }, and may export `warmUp()`, run once before them; every test runs in turn with a bound on its duration, and
// the results go to the file named by the first argument, one line each ("ok", "not ok", then the reason),
// with a closing "# passed N failed M" line. The exit code is the number of failures (capped at 100).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import assert from 'node:assert/strict';

const TEST_MS = 60_000;
const here = path.dirname(fileURLToPath(import.meta.url));
const output = process.argv[2] ?? path.join(here, 'results.txt');
const only = process.argv[3];
const lines = [];
const write = (line) => {
  lines.push(line);
  fs.writeFileSync(output, lines.join('\n') + '\n');
};

function bounded(promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${TEST_MS} ms`)), TEST_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

let passed = 0;
let failed = 0;
const files = fs
  .readdirSync(here)
  .filter((file) => file.endsWith('.win.mjs'))
  .sort();
for (const file of files) {
  const { tests, warmUp } = await import(pathToFileURL(path.join(here, file)).href);
  if (warmUp !== undefined) await bounded(warmUp());
  for (const test of tests) {
    const name = `${file.replace(/\.win\.mjs$/, '')} › ${test.name}`;
    if (only !== undefined && !name.includes(only)) continue;
    const cleanups = [];
    const t = { ...assert, teardown: (fn) => cleanups.push(fn) };
    const started = Date.now();
    try {
      await bounded(test.run(t));
      passed++;
      write(`ok ${name} (${Date.now() - started} ms)`);
    } catch (error) {
      failed++;
      write(`not ok ${name}\n  ${String(error?.stack ?? error).replace(/\n/g, '\n  ')}`);
    } finally {
      for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => {});
    }
  }
}
write(`# passed ${passed} failed ${failed}`);
process.exit(Math.min(failed, 100));
