// The child of the channel example: opens the channel its parent gave it as descriptor 3, takes the pipe
// descriptor that arrives with the first message, reads the pipe to its end, and answers with what it read.
import net from 'node:net';
import { channelFromFd } from '../../dist/index.js';
import { describeFd } from '../../dist/fd.js';

const channel = channelFromFd(3);
channel.on('error', (error) => {
  console.error(`[child] channel failed: ${error.message}`);
  process.exitCode = 1;
});

channel.once('message', (message) => {
  // Take the descriptor now, inside the listener: descriptors nobody takes are closed when it returns.
  const [fd] = message.takeFds();
  const { kind } = describeFd(fd);
  console.log(`[child] got ${JSON.stringify(message.json())} with fd ${fd} (${kind})`);
  // A net.Socket on a pipe descriptor reads it on the event loop and closes it at the end.
  const pipe = new net.Socket({ fd, readable: true, writable: false });
  const chunks = [];
  pipe.on('data', (chunk) => chunks.push(chunk));
  pipe.on('end', async () => {
    const text = Buffer.concat(chunks).toString('utf8');
    await channel.send(JSON.stringify({ bytes: Buffer.byteLength(text), kind, text }));
    // close() waits until the answer is in the kernel; the parent then sees a clean end of stream.
    await channel.close();
  });
});
