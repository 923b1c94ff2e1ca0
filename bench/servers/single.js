// Setup "single": one Node process accepting and serving by itself (the reference every hand-off pays against).
import { announceReady, benchPort, trivialHttpServer } from './trivial-http.js';

const server = trivialHttpServer();
server.listen({ host: '127.0.0.1', port: benchPort(), backlog: 4096 }, () => announceReady([]));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
