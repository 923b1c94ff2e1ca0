// The owner of a port: serves HTTP on it and waits on a channel socket for a process that takes the port
// over. When one connects, the owner hands it the listening socket, finishes the requests it has open and
// exits. Connections keep being accepted throughout: the listening socket never closes, it changes hands.
//
//   node examples/handoff-listener/owner.js /tmp/portunus-handoff/owner.sock [port]
import http from 'node:http';
import { distributeTransport, listenChannel } from '../../dist/index.js';

const [socketPath, portArgument = '0'] = process.argv.slice(2);
if (socketPath === undefined) {
  console.error('usage: owner.js <channel socket path> [port]');
  process.exit(2);
}

const app = http.createServer((request, response) => {
  response.end(`served by the owner, pid ${process.pid}\n`);
});
await new Promise((resolve, reject) => {
  app.once('error', reject);
  app.listen(Number(portArgument), '127.0.0.1', resolve);
});
const { port } = app.address();
console.log(`owner: pid ${process.pid} serving http://127.0.0.1:${port}`);

// The channel socket lives in a directory only this user can enter; the taker must run as the same user.
let channels;
try {
  channels = await listenChannel(socketPath);
} catch (error) {
  console.error(`owner: cannot listen on ${socketPath}: ${error.message}`);
  process.exit(1);
}
console.log(`owner: waiting for a taker on ${socketPath}`);

channels.once('channel', async (channel) => {
  const { pid } = await channel.ready;
  try {
    // Until the ACK the port is still ours and we go on accepting; after it our copy is closed.
    await distributeTransport(channel, app, { metadata: { from: process.pid, port } });
  } catch (error) {
    console.error(`owner: handoff to pid ${pid} failed (${error.message}); still serving`);
    await channel.close();
    return;
  }
  console.log(`owner: pid ${pid} has the listener now; finishing open requests and exiting`);
  await channels.close();
  await channel.close();
  // The listener is gone from this process; idle keep-alive connections would hold it open for nothing.
  app.closeIdleConnections();
});
channels.on('refused', ({ error }) => console.error(`owner: refused a taker: ${error.message}`));

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    app.close();
    channels.close();
  });
}
