// Installs portunus the way a user does, on a machine without a compiler, and checks that the prebuilt
// addon shipped in the package is what loads: `npm pack` (its prepack script builds dist/ and the N-API
// prebuild in prebuilds/), then `npm install <tarball>` into a fresh project with a PATH that has node, npm
// and a shell but no make, cc, g++ or python, so that a build from source would fail. Then, under every Node
// given (the one running this script first), ./consumer-check.mjs imports and require()s portunus and passes
// a descriptor over a channel pair; all must load the one prebuilt file.
//
//   node test/packaging/install-without-compiler.js [--node /path/to/other/node …] [--tarball portunus-x.tgz]
//
// Not an ava test: packing compiles the addon, which is too slow to run three times per CI run. .ci/run runs
// it once, with Node 22 and 24 as well. Exits 0 when every check passed; prints what it did.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHECK = fileURLToPath(new URL('./consumer-check.mjs', import.meta.url));
/** A build from source needs one of these: none may be on the PATH the install runs with. */
const COMPILER_TOOLS = ['make', 'cc', 'gcc', 'g++', 'c++', 'clang', 'python', 'python3'];
/** What npm and its lifecycle scripts need besides node: a shell and the tools of `sh -c`. */
const BASIC_TOOLS = ['sh', 'env', 'cat', 'ls', 'rm', 'mkdir', 'uname'];

const { values } = parseArgs({
  options: { node: { type: 'string', multiple: true, default: [] }, tarball: { type: 'string' } },
});

function step(text) {
  console.log(`\n--- ${text}`);
}

function fail(text) {
  console.error(`FAILED: ${text}`);
  process.exit(1);
}

/** The real file behind a command found on the current PATH. */
function which(command) {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).stdout.trim();
  return found === '' ? undefined : fs.realpathSync(found);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-install-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));

// 1. The tarball, as `npm publish` would make it.
let tarball = values.tarball && path.resolve(values.tarball);
if (tarball === undefined) {
  step('npm pack (prepack: dist/ and the prebuilt addon)');
  const output = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' });
  // The compiler's lines (prepack) come first on the same stdout; npm's JSON array is the last thing printed.
  const [packed] = JSON.parse(output.slice(output.lastIndexOf('\n[') + 1));
  tarball = path.join(work, packed.filename);
  const prebuilds = packed.files.filter((file) => file.path.startsWith('prebuilds/'));
  console.log(`${packed.filename}: ${packed.files.length} files, prebuilds: ${prebuilds.map((f) => f.path)}`);
  if (prebuilds.length === 0) fail('the tarball has no prebuilds/');
  if (packed.files.some((file) => file.path.startsWith('build/'))) fail('the tarball ships build/');
}

// 2. A PATH with node, npm and basic tools only.
step('a PATH without a compiler');
const bin = path.join(work, 'bin');
fs.mkdirSync(bin);
const links = { node: process.execPath, npm: which('npm'), npx: which('npx') };
for (const tool of BASIC_TOOLS) links[tool] = which(tool);
for (const [name, target] of Object.entries(links)) {
  if (target === undefined) fail(`${name} is not on this machine's PATH`);
  fs.symlinkSync(target, path.join(bin, name));
}
const bareEnv = {
  ...process.env,
  PATH: bin,
  npm_config_nodedir: '',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
};
const reachable = COMPILER_TOOLS.filter(
  (tool) => spawnSync('sh', ['-c', `command -v ${tool}`], { env: bareEnv }).status === 0,
);
if (reachable.length > 0) fail(`still on the PATH: ${reachable.join(', ')}`);
console.log(`PATH=${bin}: ${Object.keys(links).join(', ')}; none of ${COMPILER_TOOLS.join(', ')}`);

// 3. The install, as a user's.
step('npm install <tarball> into a fresh project');
const project = path.join(work, 'project');
fs.mkdirSync(project);
fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
const install = spawnSync('npm', ['install', '--prefer-offline', '--foreground-scripts', tarball], {
  cwd: project,
  env: bareEnv,
  encoding: 'utf8',
});
process.stdout.write(install.stdout);
process.stderr.write(install.stderr);
if (install.status !== 0) fail(`npm install exited with ${install.status}`);
const installed = path.join(project, 'node_modules', 'portunus');
if (fs.existsSync(path.join(installed, 'build'))) fail('the install compiled the addon (build/ exists)');
const [prebuilt] = fs.readdirSync(path.join(installed, 'prebuilds', `${process.platform}-${process.arch}`));
const prebuiltPath = path.join(installed, 'prebuilds', `${process.platform}-${process.arch}`, prebuilt);
const digest = (file) => createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 16);
console.log(`installed without compiling; prebuilt ${prebuilt} (sha256 ${digest(prebuiltPath)}…)`);

// 4. Every Node: import, require, a descriptor over a channel. The check runs from inside the project: from
// this repository, `import 'portunus'` would resolve to the repository itself (a package's self-reference).
const check = path.join(project, 'check.mjs');
fs.copyFileSync(CHECK, check);
const nodes = [process.execPath, ...values.node.map((node) => path.resolve(node))];
for (const node of nodes) {
  step(`consumer check with ${node}`);
  fs.rmSync(path.join(bin, 'node'));
  fs.symlinkSync(node, path.join(bin, 'node'));
  const run = spawnSync(node, [check], { cwd: project, env: bareEnv, encoding: 'utf8', timeout: 30_000 });
  process.stderr.write(run.stderr);
  if (run.status !== 0) fail(`the consumer check under ${node} exited with ${run.status ?? run.signal}`);
  const result = JSON.parse(run.stdout.trim().split('\n').at(-1));
  console.log(JSON.stringify(result));
  if (fs.realpathSync(result.addon) !== fs.realpathSync(prebuiltPath)) fail(`${result.node} loaded ${result.addon}`);
  if (result.kind !== 'file' || result.text !== 'read through a descriptor that crossed a channel')
    fail(`${result.node}: the descriptor did not arrive intact`);
}

// 5. The command, as `npx portunus` finds it in a project that installed the tarball.
step('npx portunus --help from the compiler-free install');
const help = spawnSync('npx', ['--no-install', 'portunus', '--help'], {
  cwd: project,
  env: bareEnv,
  encoding: 'utf8',
  timeout: 30_000,
});
process.stderr.write(help.stderr);
if (help.status !== 0) fail(`npx portunus --help exited with ${help.status ?? help.signal}`);
if (!/portunus serve/.test(help.stdout)) fail(`npx portunus --help printed no usage:\n${help.stdout}`);
console.log(help.stdout.split('\n')[0]);

console.log(`\ninstall without a compiler: ${nodes.length} Node version(s) loaded the same prebuilt addon`);
