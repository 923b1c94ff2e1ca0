// portunus from a CommonJS project: require('portunus') must work at run time (Node's require() of the ES
// module files, which needs the whole graph free of top-level await) and in TypeScript (index.d.cts, served
// by the "require" condition). The consumer is a real project in a temporary directory, without
// "type": "module", whose node_modules/portunus links to this package, so resolution goes through our
// package.json "exports" exactly as after an install.
import test from 'ava';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { STEP_MS } from '../../helpers/within.js';

const run = promisify(execFile);
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const TSC = path.join(PACKAGE_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
/**
 * tsc may check all of @types/node: give it longer than one ordinary step on a loaded machine. With
 * skipLibCheck false it took 37 s alone and passed 60 s twice in full runs on a 2-core machine at load 17.
 */
const TSC_MS = 150_000;

/** A CommonJS project with portunus (and @types/node, for tsc) in its node_modules; removed at teardown. */
function commonJsProject(t, files = {}) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-cjs-'));
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  fs.mkdirSync(path.join(directory, 'node_modules'));
  fs.symlinkSync(PACKAGE_ROOT, path.join(directory, 'node_modules', 'portunus'), 'dir');
  fs.symlinkSync(
    path.join(PACKAGE_ROOT, 'node_modules', '@types'),
    path.join(directory, 'node_modules', '@types'),
    'dir',
  );
  fs.writeFileSync(path.join(directory, 'package.json'), JSON.stringify({ name: 'cjs-consumer', private: true }));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(directory, name), text);
  return directory;
}

/** Runs `script` as a CommonJS file (node -e) in `cwd` and returns the JSON it prints. */
async function runCommonJs(cwd, script) {
  const { stdout } = await run(process.execPath, ['--input-type=commonjs', '-e', script], { cwd, timeout: STEP_MS });
  return JSON.parse(stdout);
}

test.serial(
  'require("portunus") in a CommonJS project loads the ES module files: a channelPair() round trip works',
  async (t) => {
    const before = openFdCount();
    const cwd = commonJsProject(t);
    const result = await runCommonJs(
      cwd,
      `
    const portunus = require('portunus');
    const [a, b] = portunus.channelPair();
    b.once('message', (message) => {
      console.log(JSON.stringify({ resolved: require.resolve('portunus'), text: message.text(), hasDefault: 'default' in portunus }));
      a.destroy();
      b.destroy();
    });
    a.send('sent through require()');
    `,
    );
    t.is(result.text, 'sent through require()');
    t.is(
      fs.realpathSync(result.resolved),
      path.join(PACKAGE_ROOT, 'dist', 'index.js'),
      'the same file import loads, not a CommonJS copy',
    );
    t.false(result.hasDefault, 'require() returns the named exports, as import does');
    await assertNoFdLeak(t, before);
  },
);

test('require("portunus") and import("portunus") share one copy of the module: PortunusError is the same class', async (t) => {
  const cwd = commonJsProject(t);
  const result = await runCommonJs(
    cwd,
    `
    const required = require('portunus');
    import('portunus').then((imported) => {
      let thrown;
      try {
        imported.inheritedChannel(); // no PORTUNUS_CHANNEL_FD here: ERR_PORTUNUS_NO_CHANNEL
      } catch (error) {
        thrown = error;
      }
      console.log(JSON.stringify({
        sameClass: required.PortunusError === imported.PortunusError,
        instanceOfRequired: thrown instanceof required.PortunusError,
        code: thrown.code,
        sameKeys: Object.keys(required).join() === Object.keys(imported).join(),
      }));
    });
    `,
  );
  t.deepEqual(result, { sameClass: true, instanceOfRequired: true, code: 'ERR_PORTUNUS_NO_CHANNEL', sameKeys: true });
});

// What a CommonJS TypeScript file writes: `import x = require()` and `import { } from` (compiled to
// require()). The @ts-expect-error lines prove the types are real (not any): if they stopped catching the
// mistake, tsc would report the unused directive. Every runtime export is touched, so an export missing
// from index.d.cts fails the check. The ES module file next to it checks the import side in the same program.
function typeScriptFiles(exportNames, subpathExports) {
  return {
    'consumer.ts': `
      import portunus = require('portunus');
      import protocol = require('portunus/protocol');
      import fd = require('portunus/fd');
      import worker = require('portunus/worker');
      import { PortunusError, channelPair, type Channel, type ChannelOptions } from 'portunus';

      const options: ChannelOptions = { maxPayloadBytes: 1024 };
      const [a, b]: [Channel, Channel] = channelPair(options);
      const error: unknown = new PortunusError('ERR_PORTUNUS_NO_CHANNEL', 'none');
      // portunus/worker exports the main entry's own classes: one PortunusError, whichever entry made it.
      const matches: boolean =
        error instanceof portunus.PortunusError && error instanceof worker.PortunusError && portunus.isSystemError(error) === false;
      const channel: portunus.Channel = a;
      // Only compiled, never called: tsc must refuse both lines.
      const mistakes = () => {
        // @ts-expect-error maxPayloadBytes is a number
        channelPair({ maxPayloadBytes: 'big' });
        // @ts-expect-error descriptor helpers live in portunus/fd, not at the root
        portunus.describeFd(0);
        // @ts-expect-error there is no default export, at run time either
        return portunus.default;
      };
      const everyExport: unknown[] = [
        ${exportNames.map((name) => `portunus.${name}`).join(', ')},
        ${subpathExports.protocol.map((name) => `protocol.${name}`).join(', ')},
        ${subpathExports.fd.map((name) => `fd.${name}`).join(', ')},
        ${subpathExports.worker.map((name) => `worker.${name}`).join(', ')},
      ];
      if (everyExport.some((value) => value === undefined)) throw new Error('an export is undefined at run time');
      b.once('message', (message) => {
        console.log(JSON.stringify({ text: message.text(), matches, exports: everyExport.length, mistakes: typeof mistakes }));
        channel.destroy();
        b.destroy();
      });
      void a.send('compiled by tsc');
    `,
    'consumer-esm.mts': `
      import { channelPair, type ChannelOptions } from 'portunus';
      const options: ChannelOptions = { highWaterMark: 1 };
      export const pair = (): ReturnType<typeof channelPair> => channelPair(options);
    `,
    'tsconfig.json': JSON.stringify({
      compilerOptions: { target: 'ES2022', strict: true, types: ['node'], outDir: 'out' },
      files: ['consumer.ts', 'consumer-esm.mts'],
    }),
  };
}

// node16 is the strictest about CommonJS importing ES modules, and is checked with our declaration files
// type-checked too; nodenext with skipLibCheck, the setting most projects have.
for (const [module, skipLibCheck] of [
  ['node16', false],
  ['nodenext', true],
]) {
  test(`tsc (module ${module}, skipLibCheck ${skipLibCheck}) type-checks a CommonJS file that requires portunus, and the compiled file runs`, async (t) => {
    t.timeout(TSC_MS + 30_000);
    const exportNames = Object.keys(await import('../../../dist/index.js'));
    const subpathExports = {
      protocol: Object.keys(await import('../../../dist/protocol.js')),
      fd: Object.keys(await import('../../../dist/fd.js')),
      worker: Object.keys(await import('../../../dist/worker.js')),
    };
    const cwd = commonJsProject(t, typeScriptFiles(exportNames, subpathExports));
    try {
      await run(process.execPath, [TSC, '-p', cwd, '--module', module, '--skipLibCheck', String(skipLibCheck)], {
        cwd,
        timeout: TSC_MS,
      });
    } catch (error) {
      t.fail(`tsc failed:\n${error.stdout}${error.stderr}`);
      return;
    }
    const compiled = fs.readFileSync(path.join(cwd, 'out', 'consumer.js'), 'utf8');
    t.regex(compiled, /require\("portunus"\)/, 'tsc emitted CommonJS');
    const { stdout } = await run(process.execPath, [path.join(cwd, 'out', 'consumer.js')], { cwd, timeout: STEP_MS });
    const total = exportNames.length + Object.values(subpathExports).reduce((sum, names) => sum + names.length, 0);
    t.deepEqual(JSON.parse(stdout), { text: 'compiled by tsc', matches: true, exports: total, mistakes: 'function' });
  });
}
