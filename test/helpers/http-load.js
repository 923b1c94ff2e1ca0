// HTTP clients and a harness for the dispatcher and pool tests: one request, a load run of N requests with
// concurrency C that tallies which worker answered (the worker fixtures name themselves in an x-worker
// header), bounded waits, and a pool + dispatcher started on port 0 and closed at teardown. Everything here
// has a deadline: a request that hangs becomes a failure, never a stuck test.
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { WorkerPool, acceptAndDispatch } from '../../dist/index.js';

/** Rejects after `ms` with a message naming what did not happen. */
export function within(promise, what, ms = 10_000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `predicate` every 10 ms until it returns true; rejects after `ms`. */
export async function waitFor(predicate, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves with the first `event` of `emitter` whose arguments pass `filter`; rejects after `ms`. */
export function nextEvent(emitter, event, what, ms = 10_000, filter = () => true) {
  let listener;
  const seen = new Promise((resolve) => {
    listener = (...args) => {
      if (filter(...args)) resolve(args);
    };
    emitter.on(event, listener);
  });
  return within(seen, what, ms).finally(() => emitter.off(event, listener));
}

/**
 * One request. `agent: false` (the default) opens a fresh connection and asks for `Connection: close`;
 * pass an http.Agent for keep-alive, an AbortSignal as `signal` to give up. Resolves with { status, worker, generation, body, json }; rejects on
 * any error or when nothing happened on the socket for `timeoutMs`.
 */
export function request(port, options = {}) {
  const {
    path = '/',
    method = 'GET',
    agent = false,
    headers = {},
    body,
    timeoutMs = 10_000,
    localAddress,
    signal,
  } = options;
  return new Promise((resolve, reject) => {
    const allHeaders = agent === false ? { connection: 'close', ...headers } : { ...headers };
    const req = http.request(
      { host: '127.0.0.1', port, path, method, agent, headers: allHeaders, localAddress, signal },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({
            status: res.statusCode,
            worker: res.headers['x-worker'],
            generation: res.headers['x-worker-generation'],
            body: text,
            json,
          });
        });
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Runs requests with at most `concurrency` outstanding: `total` of them, or, with `until`, as long as
 * `until()` returns false. Resolves with { ok, failed, byWorker: { id: count }, errors (first few),
 * answers: [{ worker, generation, startedAt }] }. A non-200 status counts as failed.
 */
export async function runLoad(port, { total, until, concurrency = 10, timeoutMs = 10_000, ...requestOptions } = {}) {
  const result = { ok: 0, failed: 0, byWorker: {}, errors: [], answers: [] };
  let started = 0;
  const more = () => (until === undefined ? started < total : !until());
  const lane = async () => {
    while (more()) {
      started++;
      const startedAt = Date.now();
      try {
        const answer = await request(port, { timeoutMs, ...requestOptions });
        if (answer.status !== 200) throw new Error(`status ${answer.status}: ${answer.body}`);
        result.ok++;
        result.byWorker[answer.worker] = (result.byWorker[answer.worker] ?? 0) + 1;
        result.answers.push({ worker: answer.worker, generation: answer.generation, startedAt });
      } catch (error) {
        result.failed++;
        if (result.errors.length < 5) result.errors.push(error.message);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return result;
}

/** Absolute path of a fixture in test/fixtures. */
export function fixture(name) {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}

/**
 * Starts a WorkerPool running `script` (a fixture name) and a dispatcher on 127.0.0.1, port 0, in front of
 * it. Both are closed at teardown, whatever happened; tests that check descriptors call `stopServing()`
 * themselves first. Pool defaults suited to tests: pings off, short drain timeout.
 */
export async function servePool(t, script, poolOptions = {}, dispatchOptions = {}) {
  const pool = new WorkerPool({ args: [fixture(script)], pingIntervalMs: 0, drainTimeoutMs: 2000, ...poolOptions });
  const serving = { pool, dispatcher: undefined, port: undefined };
  t.teardown(() => stopServing(serving).catch(() => {}));
  serving.dispatcher = await within(
    acceptAndDispatch({ listen: { host: '127.0.0.1', port: 0 }, pool, ...dispatchOptions }),
    'the dispatcher to start',
    20_000,
  );
  serving.port = serving.dispatcher.address().port;
  return serving;
}

/** Closes the dispatcher, then the pool, each within a deadline. Idempotent. */
export async function stopServing({ dispatcher, pool }) {
  try {
    if (dispatcher !== undefined) await within(dispatcher.close(), 'the dispatcher to close', 10_000);
  } finally {
    await within(pool.close(), 'the pool to close', 15_000);
  }
}
