// The main job (`npm start`, examples/http-pool/main.js) reads PORT and WORKERS from the environment. A value
// that is not an integer in range stops it at once, exit code 2, with a message naming the variable and
// showing what it was given; before, WORKERS=abc reached the pool as NaN and was reported as "Received null".
import test from 'ava';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { STEP_MS } from '../../helpers/within.js';

const MAIN = fileURLToPath(new URL('../../../examples/http-pool/main.js', import.meta.url));

/** Runs the main job with `env` added and resolves with its exit code and stderr (it is expected to stop). */
function runMain(env) {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [MAIN],
      { env: { ...process.env, ...env }, timeout: STEP_MS },
      (error, stdout, stderr) => {
        resolve({ code: error?.code ?? 0, signal: child.signalCode, stdout, stderr });
      },
    );
  });
}

for (const [variable, value, range] of [
  ['WORKERS', 'abc', 'from 1 to 4096'],
  ['WORKERS', '0', 'from 1 to 4096'],
  ['PORT', '80.5', 'from 0 to 65535'],
  ['PORT', '65536', 'from 0 to 65535'],
]) {
  test(`${variable}=${value} stops the main job with a message naming ${variable}`, async (t) => {
    const result = await runMain({ [variable]: value });
    t.is(result.signal, null, 'it stopped by itself');
    t.is(result.code, 2, result.stderr);
    t.is(result.stderr.trim(), `${variable} must be an integer ${range}, not "${value}"`);
    t.is(result.stdout, '', 'nothing was started');
  });
}
