// A worker of the "portunus" setup: the shared http.Server, never listening, fed by adoptConnections().
import { adoptConnections } from '../../dist/index.js';
import { trivialHttpServer } from './trivial-http.js';

adoptConnections(trivialHttpServer());
