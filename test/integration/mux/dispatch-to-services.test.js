// The registry's sets are WorkerSets: a dispatcher (acceptAndDispatch) can route connections to registered
// services by name, as an HTTP or TLS router does. Such connections carry no tcpmux marker, so the
// registrant writes no `+` line: the service sees the client's bytes from the first one.
import test from 'ava';
import net from 'node:net';
import { acceptAndDispatch } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { readBytes, startMux, startRegistrant, stopRegistrant } from '../../helpers/tcpmux.js';
import { until } from '../../helpers/within.js';

test.serial(
  'acceptAndDispatch() routes to registered services by name; a killed registrant is replaced by its peer',
  async (t) => {
    const before = openFdCount();
    const { registry, registryPath, close } = await startMux(t);
    const dispatcher = await acceptAndDispatch({
      listen: { host: '127.0.0.1', port: 0 },
      // Sets made before anyone registered: connections for them wait until a registrant comes.
      pool: { alpha: registry.service('alpha'), beta: registry.service('beta') },
      // Route on the first byte: 'a…' to alpha, anything else to beta.
      route: (preview) => (preview.bytes[0] === 0x61 ? 'alpha' : 'beta'),
    });
    t.teardown(() => dispatcher.close({ timeoutMs: 1000 }));
    const { port } = dispatcher.address();
    const first = await startRegistrant(t, registryPath, 'alpha', 'A1');
    const second = await startRegistrant(t, registryPath, 'alpha', 'A2');
    const beta = await startRegistrant(t, registryPath, 'beta', 'B');

    /** Sends `text`, reads the service's "<tag>\n" and the echo. */
    const exchange = async (text, tagLength) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.write(text);
      const received = await readBytes(socket, tagLength + 1 + text.length);
      socket.destroy();
      return received;
    };
    t.is(await exchange('beta-request', 1), 'B\nbeta-request', 'no + line: the service sees the first byte');
    const tags = new Set();
    for (let index = 0; index < 4; index++) tags.add((await exchange('alpha', 2)).slice(0, 2));
    t.deepEqual([...tags].sort(), ['A1', 'A2'], 'both registrants of alpha share its connections');

    await stopRegistrant(first);
    await until(() => registry.service('alpha').available().length === 1, 'the killed registrant to be removed');
    t.is(await exchange('alpha', 2), 'A2\nalpha');

    await dispatcher.close({ timeoutMs: 1000 });
    for (const peer of [second, beta]) await stopRegistrant(peer);
    await close();
    await assertNoFdLeak(t, before);
  },
);
