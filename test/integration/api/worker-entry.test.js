// `portunus/worker` is the entry a worker process imports to start sooner: it must load the layers a worker
// runs on and none of the master's (pool, takeover, mux, control, cli). A resolve hook in a fresh process
// records every module the import loads, so a new import that pulls the master's code into workers fails
// here. The entry's exports are the main entry's own (one PortunusError class for both).
import test from 'ava';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as main from '../../../dist/index.js';
import * as worker from '../../../dist/worker.js';
import { STEP_MS } from '../../helpers/within.js';

const run = promisify(execFile);
const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dist');

/** The dist/ modules (relative paths) that importing `specifier` loads, in a fresh Node process. */
async function modulesLoadedBy(specifier) {
  // module.register() runs the hook off the main thread; it posts each resolved URL back through a port. A
  // last import of a sentinel specifier is answered by the hook too, after every URL it posted before: the
  // port keeps their order, so once the sentinel's message is here, every URL is.
  const hook = `
    export async function initialize({ port }) { globalThis.report = (url) => port.postMessage(url); }
    export async function resolve(specifier, context, next) {
      if (specifier === 'loaded:all') {
        globalThis.report('loaded:all');
        return { url: 'data:text/javascript,', shortCircuit: true };
      }
      const resolved = await next(specifier, context);
      globalThis.report(resolved.url);
      return resolved;
    }`;
  const script = `
    import { register } from 'node:module';
    import { MessageChannel } from 'node:worker_threads';
    const { port1, port2 } = new MessageChannel();
    const urls = new Set();
    const all = new Promise((resolve) =>
      port1.on('message', (url) => (url === 'loaded:all' ? resolve() : urls.add(url))),
    );
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}), {
      data: { port: port2 },
      transferList: [port2],
    });
    await import(${JSON.stringify(specifier)});
    await import('loaded:all');
    await all;
    port1.close();
    console.log(JSON.stringify([...urls]));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: STEP_MS });
  const prefix = `${pathToFileURL(DIST).href}/`;
  return JSON.parse(stdout)
    .filter((url) => url.startsWith(prefix))
    .map((url) => url.slice(prefix.length));
}

test('portunus/worker loads the layers a worker runs on and none of the master’s', async (t) => {
  const loaded = await modulesLoadedBy(pathToFileURL(path.join(DIST, 'worker.js')).href);
  t.true(loaded.includes('dispatch/adopt-connections.js'), loaded.join(', '));
  t.true(loaded.includes('channel/index.js'));
  const masters = loaded.filter((file) => /^(pool|takeover|mux|control|cli)\//.test(file));
  t.deepEqual(masters, [], `master-side modules loaded by portunus/worker: ${masters.join(', ')}`);
  // The check can fail: the main entry does load them.
  const all = await modulesLoadedBy(pathToFileURL(path.join(DIST, 'index.js')).href);
  t.true(all.some((file) => file.startsWith('pool/')));
});

test('portunus/worker exports the main entry’s own functions and classes', (t) => {
  t.deepEqual(Object.keys(worker).sort(), ['PortunusError', 'adoptConnections', 'isSystemError', 'proxyHeaderOf']);
  for (const name of Object.keys(worker)) t.is(worker[name], main[name], name);
});
