// The clients of the tcpmux example: one per service, plus HELP, all through the same port. Usage:
// clients.js <port>. Exits 0 when every answer came.
import http from 'node:http';
import { connectTcpmux, listTcpmuxServices } from '../../dist/index.js';

const port = Number(process.argv[2]);

// echo: a raw byte stream once the server said `+`.
const echo = await connectTcpmux('echo', { port });
echo.end('hello through tcpmux\n');
let echoed = '';
for await (const chunk of echo) echoed += chunk;
console.log(`echo answered: ${echoed.trim()}`);

// daytime: HTTP on the connection tcpmux handed over; http takes an already connected socket.
const socket = await connectTcpmux('daytime', { port });
const body = await new Promise((resolve, reject) => {
  const request = http.get({ createConnection: () => socket, path: '/', headers: { host: 'daytime' } }, (response) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk) => (text += chunk));
    response.on('end', () => resolve(text));
  });
  request.on('error', reject);
});
console.log(`daytime answered: ${body.trim()}`);

// HELP: the registered names.
console.log(`HELP lists: ${(await listTcpmuxServices({ port })).join(', ')}`);

// An unknown name gets `-` and a reason, as an error with a code.
await connectTcpmux('finger', { port }).catch((error) => console.log(`finger: ${error.code} (${error.reply})`));
