// The serving process of the handoff-connection example: adopts the connections its parent hands over on
// the channel at descriptor 3 and serves them with a plain http.Server, which never listens itself. The
// request head the parent read arrives in front of the socket, so the server parses the request as sent.
import http from 'node:http';
import { channelFromFd } from '../../dist/index.js';

const channel = channelFromFd(3);

const app = http.createServer((request, response) => {
  const { route, acceptedBy } = request.socket.portunusMetadata;
  response.setHeader('connection', 'close');
  response.end(
    `${request.method} ${request.url} served by pid ${process.pid} (route '${route}', accepted by pid ${acceptedBy})\n`,
  );
});

channel.on('transport', (adopted) => {
  if (adopted.kind !== 'tcp') {
    console.error(`[server] unexpected transport of kind ${adopted.kind}; closing it`);
    adopted.socket?.destroy();
    adopted.server?.close();
    return;
  }
  // The sender's metadata, for the request handler.
  adopted.socket.portunusMetadata = adopted.metadata;
  app.emit('connection', adopted.socket);
});
channel.on('error', (error) => console.error(`[server] channel failed: ${error.message}`));
// The parent closing the channel is the signal to stop; open connections finish first.
channel.on('close', () => app.close());
