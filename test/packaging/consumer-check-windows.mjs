// The Windows lane's counterpart of ./consumer-check.mjs, run by node.exe under wine inside a project that
// has the packed tarball in node_modules/portunus: imports portunus as an ES module and require()s it as
// CommonJS (the same module state), checks that node-gyp-build loaded the shipped win32-x64 prebuild, and
// passes a socket (a listening TCP server) over a channel pair, which needs the addon. Writes one JSON line
// to the file named by argv[2] (wine's node.exe is reliable only with its output in a file); exits 1 on any
// failure.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { adoptTransport, channelPair, distributeTransport, PortunusError } from 'portunus';

const output = process.argv[2];
const deadline = setTimeout(() => {
  fs.writeFileSync(output, 'no socket crossed the channel within 30 s\n');
  process.exit(1);
}, 30_000);

const require = createRequire(path.join(process.cwd(), 'package.json'));
const fromCommonJs = require('portunus');
if (fromCommonJs.PortunusError !== PortunusError || fromCommonJs.channelPair !== channelPair)
  throw new Error("require('portunus') is another copy of the module");
const packageRoot = path.dirname(require.resolve('portunus/package.json'));
const addon = createRequire(path.join(packageRoot, 'package.json'))('node-gyp-build').path(packageRoot);
if (!addon.includes(path.join('prebuilds', 'win32-x64'))) throw new Error(`loaded ${addon}, not the prebuild`);

// A listening socket handed from one end of the pair to the other; the adopted server answers.
const [a, b] = channelPair();
const listener = net.createServer(() => {});
await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
const { port } = listener.address();
const adopted = adoptTransport(b);
await distributeTransport(a, listener);
const { kind, server } = await adopted;
server.on('connection', (socket) => socket.end('answered by the adopted server\n'));
const answer = await new Promise((resolve, reject) => {
  const client = net.connect(port, '127.0.0.1');
  let text = '';
  client.setEncoding('utf8');
  client.on('data', (chunk) => (text += chunk));
  client.on('end', () => resolve(text.trim()));
  client.on('error', reject);
});
server.close();
a.destroy();
b.destroy();
clearTimeout(deadline);
fs.writeFileSync(output, JSON.stringify({ node: process.version, addon, kind, answer }) + '\n');
