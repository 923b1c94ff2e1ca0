// Run inside a project that installed the portunus tarball (see ./install-without-compiler.js), by each Node
// under test: imports portunus as an ES module, require()s it as CommonJS (the same module state), and
// passes a descriptor over a channel pair, which needs the native addon. Prints one JSON line: the Node
// version, the addon file node-gyp-build loaded and what arrived.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { channelPair, PortunusError } from 'portunus';
import { closeFd, describeFd } from 'portunus/fd';

const require = createRequire(path.join(process.cwd(), 'package.json'));
const fromCommonJs = require('portunus');
if (fromCommonJs.PortunusError !== PortunusError || fromCommonJs.channelPair !== channelPair)
  throw new Error("require('portunus') is another copy of the module");

const packageRoot = path.dirname(require.resolve('portunus/package.json'));
const addon = createRequire(path.join(packageRoot, 'package.json'))('node-gyp-build').path(packageRoot);

// A file with known contents, sent from one end of the pair to the other as a descriptor.
const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-consumer-'));
const file = path.join(directory, 'sent.txt');
fs.writeFileSync(file, 'read through a descriptor that crossed a channel');
const sentFd = fs.openSync(file, 'r');
const [a, b] = channelPair();
const arrived = new Promise((resolve) => {
  b.on('message', (message) => {
    const [fd] = message.takeFds();
    const kind = describeFd(fd).kind;
    const text = fs.readFileSync(fd, 'utf8'); // a regular file: reading it does not wait on anyone
    closeFd(fd);
    resolve({ payload: message.payload.toString(), kind, text });
  });
});
const deadline = setTimeout(() => {
  console.error('no message within 10 s');
  process.exit(1);
}, 10_000);
await a.send('one descriptor', [sentFd]);
const received = await arrived;
clearTimeout(deadline);
fs.closeSync(sentFd);
a.destroy();
b.destroy();
fs.rmSync(directory, { recursive: true, force: true });
console.log(JSON.stringify({ node: process.version, addon, ...received }));
