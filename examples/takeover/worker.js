// A worker of the takeover example: answers every request with the version of the server that started it.
import http from 'node:http';
import { adoptConnections } from '../../dist/index.js';

const server = http.createServer((request, response) => {
  response.end(`hello from version ${process.env.SERVER_VERSION}, worker ${process.pid}\n`);
});
adoptConnections(server);
