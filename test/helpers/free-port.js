// A TCP port for a test that must name one up front (a fixed --metrics port, systemd-socket-activate, which
// refuses port 0, HAProxy's bind line): the kernel's pick on 127.0.0.1, released at once. Whoever binds it next
// can lose a race with another process; callers retry or fail loudly.
import net from 'node:net';

/** A TCP port nobody listened on a moment ago on 127.0.0.1. */
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}
