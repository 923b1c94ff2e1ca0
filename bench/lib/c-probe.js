// The benchmarks' C clients (./*.c), compiled with the system C compiler into bench/results/.bin (git-ignored)
// on first use and again when their source, or ./probe-common.h which they share, is newer. A Node client
// would add its own cost to every sample.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The header every client includes: a change to it rebuilds them all. */
const common = path.join(here, 'probe-common.h');

/**
 * Builds ./`name`.c (linked with `libraries`, e.g. ['-lssl', '-lcrypto']) if needed; returns the binary's
 * path, or undefined with the reason on stderr when it cannot be built (no compiler, no headers).
 */
export function buildProbe(name, libraries = []) {
  const source = path.join(here, `${name}.c`);
  const binary = path.resolve(here, '..', 'results', '.bin', name);
  try {
    const built = fs.existsSync(binary) ? fs.statSync(binary).mtimeMs : -Infinity;
    const stale = [source, common].some((file) => built < fs.statSync(file).mtimeMs);
    if (stale) {
      fs.mkdirSync(path.dirname(binary), { recursive: true });
      execFileSync(process.env.CC ?? 'cc', ['-O2', '-o', binary, source, ...libraries], {
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 60_000,
      });
    }
    return binary;
  } catch (error) {
    console.error(`(cannot build ${name}.c: ${error.message.split('\n')[0]})`);
    return undefined;
  }
}
