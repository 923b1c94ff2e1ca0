// serveRouter({ deferAccept: true }): the kernel holds a connection until its first bytes arrive
// (TCP_DEFER_ACCEPT), so the router does not accept a client that has not spoken yet, and accepts it once it
// has, its request already queued. Whether the silent connection was accepted is read from the accept queue's
// order (a client that connects after it and speaks is answered first), not from a wait; a router without
// the option accepts both, so the check can fail. Linux only (the option is ignored elsewhere).
import test from 'ava';
import net from 'node:net';
import { serveRouter } from '../../../dist/index.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { within } from '../../helpers/http-load.js';
import { routedPool } from '../../helpers/routed-pool.js';

const linux = process.platform === 'linux';

async function startRouter(t, deferAccept) {
  const pool = routedPool('site', 'http');
  const router = await within(
    serveRouter({
      listen: { host: '127.0.0.1', port: 0 },
      pools: { site: pool },
      routes: [{ host: 'site.test', protocol: 'http', to: 'site' }],
      headTimeoutMs: 3000,
      deferAccept,
    }),
    'the router to start',
    20_000,
  );
  return { router, pool, port: router.address().port };
}

/** A client connected to `port` that has sent nothing yet; resolves once its connect completed. */
function silentClient(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends a request on `socket` and resolves with the whole answer (the worker closes after it). */
function ask(socket) {
  return within(
    new Promise((resolve, reject) => {
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk) => (answer += chunk));
      socket.once('end', () => resolve(answer));
      socket.once('error', reject);
      socket.write('GET /deferred HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n');
    }),
    'the answer',
  );
}

(linux ? test.serial : test.serial.skip)(
  'with deferAccept a silent client is not accepted until it speaks; without, it is accepted at once',
  async (t) => {
    const before = openFdCount();
    for (const deferAccept of [false, true]) {
      const { router, pool, port } = await startRouter(t, deferAccept);
      const silent = await silentClient(port);
      // A client that connects after the silent one and speaks at once: by the time it has its answer, the
      // router has accepted everything the kernel had queued before it, the silent connection included unless
      // the kernel holds it back.
      const speaking = await silentClient(port);
      t.regex(await ask(speaking), /^HTTP\/1\.1 200 /);
      const acceptedWhileSilent = router.stats().accepted;
      t.is(acceptedWhileSilent, deferAccept ? 1 : 2, 'accepted while one client had said nothing');
      const answer = await ask(silent);
      t.regex(answer, /^HTTP\/1\.1 200 /);
      t.true(answer.includes('/deferred'));
      t.is(router.stats().accepted, 2);
      t.is(router.stats().routing.routed, 2);
      silent.destroy();
      speaking.destroy();
      await router.close();
      await pool.close();
    }
    await assertNoFdLeak(t, before);
  },
);
