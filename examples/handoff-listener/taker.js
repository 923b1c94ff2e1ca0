// Takes over a port from a running owner.js: connects to its channel socket, adopts the listening socket it
// hands over, and serves HTTP on it until SIGINT or SIGTERM. It never binds the port itself, so it needs
// no privilege for it and there is no moment when the port refuses connections.
//
//   node examples/handoff-listener/taker.js /tmp/portunus-handoff/owner.sock
import http from 'node:http';
import { adoptTransport, connectChannel } from '../../dist/index.js';

const [socketPath] = process.argv.slice(2);
if (socketPath === undefined) {
  console.error('usage: taker.js <channel socket path>');
  process.exit(2);
}

let channel;
try {
  channel = await connectChannel(socketPath);
} catch (error) {
  console.error(`taker: cannot reach an owner at ${socketPath}: ${error.message}`);
  process.exit(1);
}
// Attach right away: a transport arriving while nobody adopts is refused (and stays the owner's).
const adopted = await adoptTransport(channel);
await channel.close();
if (adopted.kind !== 'tcp-server') {
  console.error(`taker: expected a listener, got a transport of kind ${adopted.kind}`);
  process.exit(1);
}

// adopted.server is a plain net.Server already listening; HTTP is one 'connection' listener away.
const app = http.createServer((request, response) => {
  response.end(`served by the taker, pid ${process.pid}\n`);
});
adopted.server.on('connection', (socket) => app.emit('connection', socket));
console.log(
  `taker: pid ${process.pid} serving http://${adopted.localAddress}:${adopted.localPort} (listener from pid ${adopted.metadata.from})`,
);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    adopted.server.close();
    app.close();
  });
}
