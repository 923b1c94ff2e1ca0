// The tcpmux example (examples/tcpmux/main.js) runs as documented: two services on one port, a client for
// each, HELP, and a `-` for an unknown name; it exits 0 and leaves no process behind.
import test from 'ava';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { within } from '../../helpers/within.js';

const MAIN = fileURLToPath(new URL('../../../examples/tcpmux/main.js', import.meta.url));

test('examples/tcpmux: each client reaches its service through one port', async (t) => {
  const { stdout } = await within(promisify(execFile)(process.execPath, [MAIN], { timeout: 30_000 }), 'the example');
  t.regex(stdout, /^echo answered: hello through tcpmux$/m);
  t.regex(stdout, /^daytime answered: \d{4}-\d\d-\d\dT.* from pid \d+$/m);
  t.regex(stdout, /^HELP lists: daytime, echo$/m);
  t.regex(stdout, /^finger: ERR_PORTUNUS_SERVICE_REFUSED \(unknown service\)$/m);
});
