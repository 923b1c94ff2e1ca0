// A service of the tcpmux example, in its own process: `echo` echoes what it is sent, `daytime` is an
// ordinary http.Server (it never listens: the connections come from the registry). Usage:
// services.js <echo|daytime> <registry path>. Prints one line once registered.
import http from 'node:http';
import { registerService } from '../../dist/index.js';

const [name, registryPath] = process.argv.slice(2);

const service =
  name === 'echo'
    ? // A function gets each connection, after the `+` line has been written to it.
      (socket) => {
        socket.on('error', () => {});
        socket.pipe(socket);
      }
    : // A net.Server (http, tls, …) gets each connection as a 'connection' event.
      http.createServer((request, response) => {
        response.setHeader('connection', 'close');
        response.end(`${new Date().toISOString()} from pid ${process.pid}\n`);
      });

const registration = await registerService(name, service, { registry: registryPath });
registration.on('close', () => process.exit(0));
console.log(`service ${registration.name} registered (pid ${process.pid})`);
