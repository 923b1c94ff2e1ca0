// The argument boundary of the public API: a bad argument or option throws synchronously, even from a
// function that returns a promise, with ERR_INVALID_ARG_TYPE (TypeError: the wrong type) or
// ERR_INVALID_ARG_VALUE (RangeError: the right type, a wrong value), a message naming the argument or
// option and showing the value the way Node's validators show it (NaN as NaN, not null), and nothing
// opened. OS errors from a call on a descriptor say which descriptor.
import test from 'ava';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  WorkerPool,
  acceptAndDispatch,
  adoptConnections,
  serveRouter,
  shutdownOnSignals,
  listenControl,
  listenMetrics,
  requestControl,
  ServeMetrics,
  adoptTransport,
  channelFromFd,
  channelPair,
  connectChannel,
  distributeTransport,
  inheritedChannel,
  listenChannel,
  nodeIpcChannel,
  serveListeners,
  socketPairForChild,
  spawnActivated,
  notifyServiceManager,
  ServiceRegistry,
  openServiceRegistry,
  registerService,
  serveTcpmux,
  connectTcpmux,
  listTcpmuxServices,
  offerListeners,
  takeListeners,
} from '../../../dist/index.js';
import { closeFd, describeFd, dupFd, peerCredentialsOf } from '../../../dist/fd.js';
import { CHANNEL_FD_ENV } from '../../../dist/protocol.js';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { fixture } from '../../helpers/http-load.js';
import { addon } from '../../helpers/raw-endpoint.js';
import { once, within } from '../../helpers/within.js';

const TYPE = 'ERR_INVALID_ARG_TYPE';
const VALUE = 'ERR_INVALID_ARG_VALUE';

/**
 * Checks that `call` throws (does not return a promise that would reject) the argument error described:
 * its code, its class, the quoted `name` in the message, and the message ending in `Received <received>`.
 */
function assertArgumentError(t, call, { code, name, received }) {
  let returned;
  const error = t.throws(() => {
    returned = call();
  });
  // Where the old code returned a rejected promise instead of throwing, that rejection is handled here.
  if (returned instanceof Promise) returned.catch(() => {});
  if (error === undefined) return undefined;
  t.is(error.code, code, error.message);
  t.true(error instanceof (code === TYPE ? TypeError : RangeError), `${error.name}: ${error.message}`);
  t.true(error.message.includes(`"${name}"`), `names ${name}: ${error.message}`);
  t.true(error.message.endsWith(`Received ${received}`), `shows ${received}: ${error.message}`);
  return error;
}

/** A private directory for socket paths, removed at teardown. */
function socketDirectory(t) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-args-'));
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/** A channel pair and a socket to hand off; `close()` (also run at teardown) closes them all. */
function handoffSetup(t) {
  const [channel, peer] = channelPair();
  const [transportFd, otherFd] = addon.socketPair('stream');
  let open = true;
  const close = async () => {
    if (!open) return;
    open = false;
    channel.destroy();
    peer.destroy();
    addon.close(transportFd);
    addon.close(otherFd);
    await Promise.all([channel.closed, peer.closed]);
  };
  t.teardown(close);
  return { channel, peer, transport: { fd: transportFd }, close };
}

/** A pool that is never started: it has no process and no descriptor to leave behind. */
function idlePool() {
  return new WorkerPool({ args: [fixture('worker-http.js')], min: 0, max: 1, pingIntervalMs: 0 });
}

/** What listenControl() steers, around a pool that is never started. */
function controlTarget(pool) {
  return { pool, metrics: new ServeMetrics({ pool }), mode: 'dispatch' };
}

const cycle = {};
cycle.self = cycle;

/** [title, setup → call, expected error]. `setup` gets the test and returns what the call needs. */
const CASES = [
  // How values are shown.
  [
    'channelPair(): options.maxPayloadBytes NaN',
    () => () => channelPair({ maxPayloadBytes: NaN }),
    { code: VALUE, name: 'options.maxPayloadBytes', received: 'NaN' },
  ],
  [
    'channelPair(): options.maxPayloadBytes Infinity',
    () => () => channelPair({ maxPayloadBytes: Infinity }),
    { code: VALUE, name: 'options.maxPayloadBytes', received: 'Infinity' },
  ],
  [
    'channelPair(): options.highWaterMark -0',
    () => () => channelPair({ highWaterMark: -0 }),
    { code: VALUE, name: 'options.highWaterMark', received: '-0' },
  ],
  [
    'channelPair(): options.highWaterMark a string',
    () => () => channelPair({ highWaterMark: '1024' }),
    { code: TYPE, name: 'options.highWaterMark', received: "type string ('1024')" },
  ],
  [
    'channelPair(): options.maxQueuedBytes a bigint',
    () => () => channelPair({ maxQueuedBytes: 10n }),
    { code: TYPE, name: 'options.maxQueuedBytes', received: 'type bigint (10n)' },
  ],
  [
    'channelPair(): options.maxQueuedBytes a symbol',
    () => () => channelPair({ maxQueuedBytes: Symbol('size') }),
    { code: TYPE, name: 'options.maxQueuedBytes', received: 'type symbol (Symbol(size))' },
  ],
  [
    'channelPair(): options.maxQueuedBytes a function',
    () => () => channelPair({ maxQueuedBytes: function size() {} }),
    { code: TYPE, name: 'options.maxQueuedBytes', received: 'function size' },
  ],
  [
    'channelPair(): options.maxQueuedBytes an object',
    () => () => channelPair({ maxQueuedBytes: new Map() }),
    { code: TYPE, name: 'options.maxQueuedBytes', received: 'an instance of Map' },
  ],
  ['channelPair(): options null', () => () => channelPair(null), { code: TYPE, name: 'options', received: 'null' }],
  // setTimeout fires at once past 2^31 - 1 ms: such a handshake timeout would end every channel at once.
  [
    'channelPair(): options.handshakeTimeoutMs past what setTimeout can wait',
    () => () => channelPair({ handshakeTimeoutMs: 2 ** 31 }),
    { code: VALUE, name: 'options.handshakeTimeoutMs', received: '2147483648' },
  ],
  // Opening a channel.
  [
    'channelFromFd(): fd Infinity',
    () => () => channelFromFd(Infinity),
    { code: VALUE, name: 'fd', received: 'Infinity' },
  ],
  [
    'channelFromFd(): fd a string',
    () => () => channelFromFd('3'),
    { code: TYPE, name: 'fd', received: "type string ('3')" },
  ],
  [
    'channelFromFd(): options.maxQueuedBytes 1.5',
    () => () => channelFromFd(0, { maxQueuedBytes: 1.5 }),
    { code: VALUE, name: 'options.maxQueuedBytes', received: '1.5' },
  ],
  [
    'socketPairForChild(): options.maxPayloadBytes a bigint',
    () => () => socketPairForChild({ maxPayloadBytes: 1n }),
    { code: TYPE, name: 'options.maxPayloadBytes', received: 'type bigint (1n)' },
  ],
  [
    'nodeIpcChannel(): no endpoint',
    () => () => nodeIpcChannel(undefined),
    { code: TYPE, name: 'endpoint', received: 'undefined' },
  ],
  [
    'connectChannel(): socketPath empty',
    () => () => connectChannel(''),
    { code: VALUE, name: 'socketPath', received: "''" },
  ],
  [
    'connectChannel(): options.maxPayloadBytes -1',
    (t) => () => connectChannel(path.join(socketDirectory(t), 'none.sock'), { maxPayloadBytes: -1 }),
    { code: VALUE, name: 'options.maxPayloadBytes', received: '-1' },
  ],
  [
    'connectChannel(): options.allow a string',
    (t) => () => connectChannel(path.join(socketDirectory(t), 'none.sock'), { allow: 'root' }),
    { code: TYPE, name: 'options.allow', received: "type string ('root')" },
  ],
  [
    'connectChannel(): options.users a SID string instead of an array',
    (t) => () => connectChannel(path.join(socketDirectory(t), 'none.sock'), { users: 'S-1-5-18' }),
    { code: TYPE, name: 'options.users', received: "type string ('S-1-5-18')" },
  ],
  [
    'listenChannel(): options.users holding a user name',
    (t) => () => listenChannel(path.join(socketDirectory(t), 'none.sock'), { users: ['Administrator'] }),
    { code: TYPE, name: 'options.users', received: 'an instance of Array' },
  ],
  [
    'connectChannel(): socketPath.pid 0',
    () => () => connectChannel({ pid: 0 }),
    { code: VALUE, name: 'socketPath.pid', received: '0' },
  ],
  [
    'connectChannel(): socketPath.pid a string',
    () => () => connectChannel({ pid: '12' }),
    { code: TYPE, name: 'socketPath.pid', received: "type string ('12')" },
  ],
  [
    'listenChannel(): socketPath.pid a number instead of self',
    () => () => listenChannel({ pid: 12 }),
    { code: TYPE, name: 'socketPath.pid', received: 'type number (12)' },
  ],
  [
    "listenChannel(): socketPath.pid 'other'",
    () => () => listenChannel({ pid: 'other' }),
    { code: VALUE, name: 'socketPath.pid', received: "'other'" },
  ],
  [
    'listenChannel(): socketPath a number',
    () => () => listenChannel(42),
    { code: TYPE, name: 'socketPath', received: 'type number (42)' },
  ],
  [
    'listenChannel(): options.highWaterMark NaN',
    (t) => () => listenChannel(path.join(socketDirectory(t), 'listen.sock'), { highWaterMark: NaN }),
    { code: VALUE, name: 'options.highWaterMark', received: 'NaN' },
  ],
  // Channel methods.
  [
    'channel.ping(): timeoutMs NaN',
    (t) => {
      const [a, b] = channelPair();
      t.teardown(() => (a.destroy(), b.destroy()));
      return () => a.ping(NaN);
    },
    { code: VALUE, name: 'timeoutMs', received: 'NaN' },
  ],
  [
    'channel.handle(): handler not a function',
    (t) => {
      const [a, b] = channelPair();
      t.teardown(() => (a.destroy(), b.destroy()));
      return () => a.handle(0x20, 'onFrame');
    },
    { code: TYPE, name: 'handler', received: "type string ('onFrame')" },
  ],
  // Descriptor helpers: the addon read numbers as int32, so 2^32 + 1 described descriptor 1 and 1.5 meant 1.
  [
    'describeFd(): past int32',
    () => () => describeFd(2 ** 32 + 1),
    { code: VALUE, name: 'fd', received: '4294967297' },
  ],
  ['peerCredentialsOf(): 1.5', () => () => peerCredentialsOf(1.5), { code: VALUE, name: 'fd', received: '1.5' }],
  ['dupFd(): a string', () => () => dupFd('0'), { code: TYPE, name: 'fd', received: "type string ('0')" }],
  ['closeFd(): -1', () => () => closeFd(-1), { code: VALUE, name: 'fd', received: '-1' }],
  // Socket handoff.
  [
    'distributeTransport(): channel not a Channel',
    (t) => {
      const { transport } = handoffSetup(t);
      return () => distributeTransport({}, transport);
    },
    { code: TYPE, name: 'channel', received: 'an instance of Object' },
  ],
  [
    'distributeTransport(): transport a string',
    (t) => {
      const { channel } = handoffSetup(t);
      return () => distributeTransport(channel, 'socket');
    },
    { code: TYPE, name: 'transport', received: "type string ('socket')" },
  ],
  [
    'distributeTransport(): transport.fd -1',
    (t) => {
      const { channel } = handoffSetup(t);
      return () => distributeTransport(channel, { fd: -1 });
    },
    { code: VALUE, name: 'transport.fd', received: '-1' },
  ],
  [
    'distributeTransport(): options.preRead a string',
    (t) => {
      const { channel, transport } = handoffSetup(t);
      return () => distributeTransport(channel, transport, { preRead: 'GET /' });
    },
    { code: TYPE, name: 'options.preRead', received: "type string ('GET /')" },
  ],
  [
    'distributeTransport(): options.keepOpen a string',
    (t) => {
      const { channel, transport } = handoffSetup(t);
      return () => distributeTransport(channel, transport, { keepOpen: 'yes' });
    },
    { code: TYPE, name: 'options.keepOpen', received: "type string ('yes')" },
  ],
  [
    'distributeTransport(): options.metadata that JSON cannot encode',
    (t) => {
      const { channel, transport } = handoffSetup(t);
      return () => distributeTransport(channel, transport, { metadata: cycle });
    },
    { code: VALUE, name: 'options.metadata', received: 'an instance of Object' },
  ],
  [
    'adoptTransport(): no channel',
    () => () => adoptTransport(undefined),
    { code: TYPE, name: 'channel', received: 'undefined' },
  ],
  // The dispatcher, the pool, the worker side and the shutdown helper. A WorkerPool starts nothing until
  // start(), so these open nothing either.
  [
    'acceptAndDispatch(): options.ackTimeoutMs NaN',
    (t) => () => acceptAndDispatch({ listen: { port: 0 }, pool: idlePool(t), ackTimeoutMs: NaN }),
    { code: VALUE, name: 'options.ackTimeoutMs', received: 'NaN' },
  ],
  [
    'acceptAndDispatch(): options.queueTimeoutMs 0',
    (t) => () => acceptAndDispatch({ listen: { port: 0 }, pool: idlePool(t), queueTimeoutMs: 0 }),
    { code: VALUE, name: 'options.queueTimeoutMs', received: '0' },
  ],
  [
    'acceptAndDispatch(): options.maxPending a string',
    (t) => () => acceptAndDispatch({ listen: { port: 0 }, pool: idlePool(t), maxPending: '8' }),
    { code: TYPE, name: 'options.maxPending', received: "type string ('8')" },
  ],
  [
    'acceptAndDispatch(): options.preRead.maxBytes -1',
    (t) => () => acceptAndDispatch({ listen: { port: 0 }, pool: idlePool(t), preRead: { maxBytes: -1 } }),
    { code: VALUE, name: 'options.preRead.maxBytes', received: '-1' },
  ],
  [
    'acceptAndDispatch(): options.preRead.complete not a function',
    (t) => () => acceptAndDispatch({ listen: { port: 0 }, pool: idlePool(t), preRead: { complete: true } }),
    { code: TYPE, name: 'options.preRead.complete', received: 'type boolean (true)' },
  ],
  [
    "serveListeners(): options.fallback 'dispatch'",
    () => () =>
      serveListeners({
        listen: { port: 0 },
        pool: new WorkerPool({ args: [fixture('worker-http.js')], min: 1, max: 1 }),
        mode: 'reuseport',
        fallback: 'dispatch',
      }),
    { code: VALUE, name: 'options.fallback', received: "'dispatch'" },
  ],
  [
    'acceptAndDispatch(): options.pool missing',
    () => () => acceptAndDispatch({ listen: { port: 0 } }),
    { code: TYPE, name: 'options.pool', received: 'undefined' },
  ],
  [
    'acceptAndDispatch(): options.acceptProxyProtocol a string',
    (t) => () => acceptAndDispatch({ listen: { port: 0 }, pool: idlePool(t), acceptProxyProtocol: 'yes' }),
    { code: TYPE, name: 'options.acceptProxyProtocol', received: "type string ('yes')" },
  ],
  [
    'acceptAndDispatch(): options.listen.path a number',
    (t) => () => acceptAndDispatch({ listen: { path: 7 }, pool: idlePool(t) }),
    { code: TYPE, name: 'options.listen.path', received: 'type number (7)' },
  ],
  [
    'acceptAndDispatch(): options.listen.path longer than sun_path',
    (t) => () => acceptAndDispatch({ listen: { path: `/${'x'.repeat(120)}` }, pool: idlePool(t) }),
    { code: VALUE, name: 'options.listen.path', received: "'/xxxxxxxxxxxxxxxxxxxxxxxx...'" },
  ],
  [
    'serveListeners(): options.listen with a path and a port',
    (t) => () => serveListeners({ listen: { path: '/tmp/p.sock', port: 0 }, pool: idlePool(t) }),
    { code: VALUE, name: 'options.listen.port', received: '0' },
  ],
  [
    "serveListeners(): listen { fds } outside mode 'reuseport'",
    (t) => () => serveListeners({ listen: { fds: [3] }, pool: idlePool(t) }),
    { code: VALUE, name: 'options.listen', received: 'an instance of Object' },
  ],
  [
    'serveListeners(): listen { fds } holding a descriptor that is not a listening TCP socket',
    (t) => () => serveListeners({ listen: { fds: [0] }, pool: idlePool(t), mode: 'reuseport' }),
    { code: VALUE, name: 'options.listen.fds[0]', received: '0' },
  ],
  [
    'serveRouter(): options.deferAccept a string',
    (t) => () =>
      serveRouter({
        listen: { port: 0 },
        pools: { web: idlePool(t) },
        routes: [{ host: 'a.test', protocol: 'http', to: 'web' }],
        deferAccept: 'yes',
      }),
    { code: TYPE, name: 'options.deferAccept', received: "type string ('yes')" },
  ],
  [
    'serveRouter(): options.pools missing',
    () => () => serveRouter({ listen: { port: 0 }, routes: [{ to: 'web' }] }),
    { code: TYPE, name: 'options.pools', received: 'undefined' },
  ],
  [
    'serveRouter(): options.routes empty',
    (t) => () => serveRouter({ listen: { port: 0 }, pools: { web: idlePool(t) }, routes: [] }),
    { code: TYPE, name: 'options.routes', received: 'an instance of Array' },
  ],
  [
    'serveRouter(): a route to a pool that does not exist',
    (t) => () => serveRouter({ listen: { port: 0 }, pools: { web: idlePool(t) }, routes: [{ to: 'api' }] }),
    { code: VALUE, name: 'options.routes[0].to', received: "'api'" },
  ],
  [
    'serveRouter(): a route host that is not a host name',
    (t) => () =>
      serveRouter({ listen: { port: 0 }, pools: { web: idlePool(t) }, routes: [{ host: 'a b', to: 'web' }] }),
    { code: VALUE, name: 'options.routes[0].host', received: "'a b'" },
  ],
  [
    'serveRouter(): a path prefix on a TLS route',
    (t) => () =>
      serveRouter({
        listen: { port: 0 },
        pools: { web: idlePool(t) },
        routes: [{ protocol: 'tls', pathPrefix: '/api', to: 'web' }],
      }),
    { code: VALUE, name: 'options.routes[0].pathPrefix', received: "'/api'" },
  ],
  [
    'serveRouter(): sendProxyProtocol 3',
    (t) => () =>
      serveRouter({ listen: { port: 0 }, pools: { web: idlePool(t) }, routes: [{ to: 'web', sendProxyProtocol: 3 }] }),
    { code: VALUE, name: 'options.routes[0].sendProxyProtocol', received: '3' },
  ],
  [
    'serveRouter(): options.maxHeadBytes 10',
    (t) => () =>
      serveRouter({ listen: { port: 0 }, pools: { web: idlePool(t) }, routes: [{ to: 'web' }], maxHeadBytes: 10 }),
    { code: VALUE, name: 'options.maxHeadBytes', received: '10' },
  ],
  [
    'new WorkerPool(): options.max NaN (WORKERS=abc)',
    () => () => new WorkerPool({ max: NaN }),
    { code: VALUE, name: 'options.max', received: 'NaN' },
  ],
  [
    'new WorkerPool(): options.detached a string',
    () => () => new WorkerPool({ detached: 'yes' }),
    { code: TYPE, name: 'options.detached', received: "type string ('yes')" },
  ],
  [
    'new WorkerPool(): options.readyTimeoutMs past what setTimeout can wait',
    () => () => new WorkerPool({ readyTimeoutMs: 2 ** 31 }),
    { code: VALUE, name: 'options.readyTimeoutMs', received: '2147483648' },
  ],
  [
    'new WorkerPool(): options.stdio pipe',
    () => () => new WorkerPool({ stdio: 'pipe' }),
    { code: VALUE, name: 'options.stdio', received: "'pipe'" },
  ],
  // sd_notify: the state is checked before anything is sent (the environment names no socket here).
  [
    'notifyServiceManager(): nothing to say',
    () => () => notifyServiceManager({}, {}),
    { code: VALUE, name: 'state', received: 'an instance of Object' },
  ],
  [
    'notifyServiceManager(): a status of two lines',
    () => () => notifyServiceManager({ status: 'a\nb' }, {}),
    { code: VALUE, name: 'state.status', received: "'a\nb'" },
  ],
  [
    'notifyServiceManager(): mainPid 0',
    () => () => notifyServiceManager({ mainPid: 0 }, {}),
    { code: VALUE, name: 'state.mainPid', received: '0' },
  ],
  [
    'notifyServiceManager(): mainPid a string',
    () => () => notifyServiceManager({ mainPid: '42' }, {}),
    { code: TYPE, name: 'state.mainPid', received: "type string ('42')" },
  ],
  // Socket activation: spawnActivated() checks everything before it spawns anything.
  [
    'spawnActivated(): no listeners',
    () => () => spawnActivated('true', [], { listeners: [] }),
    { code: TYPE, name: 'options.listeners', received: 'an instance of Array' },
  ],
  [
    'spawnActivated(): a listener name with a colon',
    () => () => spawnActivated('true', [], { listeners: [{ name: 'a:b', fd: 0 }] }),
    { code: VALUE, name: 'options.listeners[0].name', received: "'a:b'" },
  ],
  [
    'spawnActivated(): a listener that is not a socket or a descriptor',
    () => () => spawnActivated('true', [], { listeners: [{ name: 'web' }] }),
    { code: TYPE, name: 'options.listeners[0]', received: 'an instance of Object' },
  ],
  [
    'spawnActivated(): a server that does not listen',
    () => () => spawnActivated('true', [], { listeners: [{ server: net.createServer() }] }),
    { code: TYPE, name: 'options.listeners[0].server', received: 'an instance of Server' },
  ],
  [
    'spawnActivated(): args not an array',
    () => () => spawnActivated('true', 'x', { listeners: [{ fd: 0 }] }),
    { code: TYPE, name: 'args', received: "type string ('x')" },
  ],
  [
    'spawnActivated(): options.stdio a number',
    () => () => spawnActivated('true', [], { listeners: [{ fd: 0 }], stdio: 1 }),
    { code: VALUE, name: 'options.stdio', received: '1' },
  ],
  [
    'new WorkerPool(): options.listeners with a net.Server (inherit mode takes descriptors)',
    () => () => new WorkerPool({ listeners: [{ server: net.createServer() }] }),
    { code: TYPE, name: 'options.listeners[0]', received: 'an instance of Object' },
  ],
  [
    'new WorkerPool(): options.readyAfterMs not below readyTimeoutMs',
    () => () => new WorkerPool({ listeners: [{ fd: 0 }], readyAfterMs: 10_000 }),
    { code: VALUE, name: 'options.readyAfterMs', received: '10000' },
  ],
  [
    'serveListeners(): options.name outside inherit mode',
    () => () => serveListeners({ listen: { port: 0 }, pool: new WorkerPool({ min: 1 }), name: 'web' }),
    { code: VALUE, name: 'options.name', received: "'web'" },
  ],
  [
    'serveListeners(): an inherit mode name with a colon',
    () => () => serveListeners({ listen: { port: 0 }, pool: new WorkerPool({ min: 1 }), mode: 'inherit', name: 'a:b' }),
    { code: VALUE, name: 'options.name', received: "'a:b'" },
  ],
  [
    'adoptConnections(): options.exitOnDrain a number',
    () => () => adoptConnections(new EventEmitter(), { exitOnDrain: 1 }),
    { code: TYPE, name: 'options.exitOnDrain', received: 'type number (1)' },
  ],
  [
    'adoptConnections(): options.channel not a Channel',
    () => () => adoptConnections(new EventEmitter(), { channel: {} }),
    { code: TYPE, name: 'options.channel', received: 'an instance of Object' },
  ],
  [
    'pool.spawnWorkers(): count 0',
    () => () => idlePool().spawnWorkers(0),
    { code: VALUE, name: 'count', received: '0' },
  ],
  [
    'pool.removeWorkers(): count a string',
    () => () => idlePool().removeWorkers('2'),
    { code: TYPE, name: 'count', received: "type string ('2')" },
  ],
  [
    'new ServeMetrics(): sources.pool not a WorkerPool',
    () => () => new ServeMetrics({ pool: {} }),
    { code: TYPE, name: 'sources.pool', received: 'an instance of Object' },
  ],
  [
    'listenControl(): options.maxLineBytes 10',
    (t) => () => {
      const pool = idlePool();
      return listenControl(path.join(socketDirectory(t), 'c.sock'), controlTarget(pool), { maxLineBytes: 10 });
    },
    { code: VALUE, name: 'options.maxLineBytes', received: '10' },
  ],
  [
    'listenControl(): target.metrics missing',
    (t) => () => listenControl(path.join(socketDirectory(t), 'c.sock'), { pool: idlePool(), mode: 'dispatch' }),
    { code: TYPE, name: 'target.metrics', received: 'undefined' },
  ],
  [
    'requestControl(): an empty command',
    () => () => requestControl('/nonexistent/c.sock', ''),
    { code: VALUE, name: 'command', received: "''" },
  ],
  [
    'requestControl(): options.timeoutMs 0',
    () => () => requestControl('/nonexistent/c.sock', 'stats', { timeoutMs: 0 }),
    { code: VALUE, name: 'options.timeoutMs', received: '0' },
  ],
  [
    'listenMetrics(): port 70000',
    () => () => listenMetrics(new ServeMetrics({ pool: idlePool() }), '127.0.0.1', 70000),
    { code: VALUE, name: 'port', received: '70000' },
  ],
  [
    'shutdownOnSignals(): options.timeoutMs -5',
    () => () => shutdownOnSignals([], { timeoutMs: -5 }),
    { code: VALUE, name: 'options.timeoutMs', received: '-5' },
  ],
  [
    'new ServiceRegistry(): options.names an array',
    () => () => new ServiceRegistry({ names: [0] }),
    { code: TYPE, name: 'options.names', received: 'an instance of Array' },
  ],
  [
    'new ServiceRegistry(): options.names with uids that are not numbers',
    () => () => new ServiceRegistry({ names: { echo: ['root'] } }),
    { code: TYPE, name: 'options.names["echo"]', received: 'an instance of Array' },
  ],
  [
    'new ServiceRegistry(): options.shareAcrossUids a string',
    () => () => new ServiceRegistry({ shareAcrossUids: 'yes' }),
    { code: TYPE, name: 'options.shareAcrossUids', received: "type string ('yes')" },
  ],
  [
    'ServiceRegistry.service(): a name with a space',
    () => () => new ServiceRegistry().service('my service'),
    { code: VALUE, name: 'name', received: "'my service'" },
  ],
  [
    'openServiceRegistry(): options.path missing',
    () => () => openServiceRegistry({}),
    { code: TYPE, name: 'options.path', received: 'undefined' },
  ],
  [
    'openServiceRegistry(): options.registerTimeoutMs 0',
    () => () => openServiceRegistry({ path: '/tmp/x.sock', registerTimeoutMs: 0 }),
    { code: VALUE, name: 'options.registerTimeoutMs', received: '0' },
  ],
  [
    'registerService(): a name longer than 255 bytes',
    () => () => registerService('x'.repeat(256), () => {}, { registry: '/tmp/x.sock' }),
    { code: VALUE, name: 'name', received: `'${'x'.repeat(25)}...'` },
  ],
  [
    'registerService(): service neither a server nor a function',
    () => () => registerService('echo', {}, { registry: '/tmp/x.sock' }),
    { code: TYPE, name: 'service', received: 'an instance of Object' },
  ],
  [
    'registerService(): options.registry missing',
    () => () => registerService('echo', () => {}, {}),
    { code: TYPE, name: 'options.registry', received: 'undefined' },
  ],
  [
    'serveTcpmux(): options.registry not a ServiceRegistry',
    () => () => serveTcpmux({ listen: { port: 0 }, registry: {} }),
    { code: TYPE, name: 'options.registry', received: 'an instance of Object' },
  ],
  [
    'serveTcpmux(): options.acceptProxyProtocol a number',
    () => () => serveTcpmux({ listen: { port: 0 }, registry: new ServiceRegistry(), acceptProxyProtocol: 1 }),
    { code: TYPE, name: 'options.acceptProxyProtocol', received: 'type number (1)' },
  ],
  [
    'serveTcpmux(): options.maxNameLength 256',
    () => () => serveTcpmux({ listen: { port: 0 }, registry: new ServiceRegistry(), maxNameLength: 256 }),
    { code: VALUE, name: 'options.maxNameLength', received: '256' },
  ],
  [
    'serveTcpmux(): options.listen.port 65536',
    () => () => serveTcpmux({ listen: { port: 65536 }, registry: new ServiceRegistry() }),
    { code: VALUE, name: 'options.listen.port', received: '65536' },
  ],
  [
    'serveTcpmux(): options.acceptProxyProtocol a string',
    () => () => serveTcpmux({ listen: { port: 0 }, registry: new ServiceRegistry(), acceptProxyProtocol: 'yes' }),
    { code: TYPE, name: 'options.acceptProxyProtocol', received: "type string ('yes')" },
  ],
  [
    'connectTcpmux(): an empty service name',
    () => () => connectTcpmux('', { port: 1 }),
    { code: VALUE, name: 'service', received: "''" },
  ],
  [
    'listTcpmuxServices(): options.port missing',
    () => () => listTcpmuxServices({}),
    { code: TYPE, name: 'options.port', received: 'undefined' },
  ],
  // Takeover.
  [
    'offerListeners(): options.path missing',
    () => () => offerListeners({ listeners: {} }),
    { code: TYPE, name: 'options.path', received: 'undefined' },
  ],
  [
    'offerListeners(): options.listeners an array',
    (t) => () => offerListeners({ path: path.join(socketDirectory(t), 't.sock'), listeners: [] }),
    { code: TYPE, name: 'options.listeners', received: 'an instance of Array' },
  ],
  [
    'offerListeners(): a listener that is a plain object',
    (t) => () => offerListeners({ path: path.join(socketDirectory(t), 't.sock'), listeners: { web: {} } }),
    { code: TYPE, name: 'options.listeners.web', received: 'an instance of Object' },
  ],
  [
    'offerListeners(): a net.Server that does not listen',
    (t) => () =>
      offerListeners({ path: path.join(socketDirectory(t), 't.sock'), listeners: { web: new net.Server() } }),
    { code: VALUE, name: 'options.listeners.web', received: 'an instance of Server' },
  ],
  [
    'offerListeners(): options.readyTimeoutMs 0',
    (t) => () => offerListeners({ path: path.join(socketDirectory(t), 't.sock'), listeners: {}, readyTimeoutMs: 0 }),
    { code: VALUE, name: 'options.readyTimeoutMs', received: '0' },
  ],
  [
    'takeListeners(): path a number',
    () => () => takeListeners(42),
    { code: TYPE, name: 'socketPath', received: 'type number (42)' },
  ],
  [
    'takeListeners(): options.timeoutMs a string',
    (t) => () => takeListeners(path.join(socketDirectory(t), 't.sock'), { timeoutMs: '5' }),
    { code: TYPE, name: 'options.timeoutMs', received: "type string ('5')" },
  ],
  [
    'takeListeners(): options.allow a string',
    (t) => () => takeListeners(path.join(socketDirectory(t), 't.sock'), { allow: 'root' }),
    { code: TYPE, name: 'options.allow', received: "type string ('root')" },
  ],
];

for (const [title, setup, expected] of CASES) {
  test.serial(`${title}: throws ${expected.code} synchronously, naming ${expected.name}`, async (t) => {
    const call = setup(t);
    // Counted after the setup: the failed call itself must leave nothing open.
    const before = openFdCount();
    assertArgumentError(t, call, expected);
    await assertNoFdLeak(t, before);
  });
}

test.serial('listenChannel() with a bad option neither creates the socket nor listens', async (t) => {
  const directory = socketDirectory(t);
  const socketPath = path.join(directory, 'sub', 'listen.sock');
  assertArgumentError(t, () => listenChannel(socketPath, { maxQueuedBytes: 0 }), {
    code: VALUE,
    name: 'options.maxQueuedBytes',
    received: '0',
  });
  t.false(fs.existsSync(path.dirname(socketPath)), 'nothing was created on disk');
});

test.serial('the cause of an unencodable metadata option is kept', (t) => {
  const { channel, transport } = handoffSetup(t);
  const error = assertArgumentError(t, () => distributeTransport(channel, transport, { metadata: { size: 1n } }), {
    code: VALUE,
    name: 'options.metadata',
    received: 'an instance of Object',
  });
  t.true(error?.cause instanceof TypeError, `cause: ${error?.cause}`);
});

test.serial('inheritedChannel() checks its options before it consumes PORTUNUS_CHANNEL_FD', async (t) => {
  const before = openFdCount();
  const [mine, theirs] = addon.socketPair('stream');
  process.env[CHANNEL_FD_ENV] = String(mine);
  t.teardown(() => delete process.env[CHANNEL_FD_ENV]);
  assertArgumentError(t, () => inheritedChannel({ handshakeTimeoutMs: -1 }), {
    code: VALUE,
    name: 'options.handshakeTimeoutMs',
    received: '-1',
  });
  t.is(process.env[CHANNEL_FD_ENV], String(mine), 'the variable is still there for a call with good options');
  t.notThrows(() => fs.fstatSync(mine), 'and the descriptor is still open');
  addon.close(mine);
  addon.close(theirs);
  await assertNoFdLeak(t, before);
});

test.serial('preRead may be any Uint8Array: the adopter gets the bytes', async (t) => {
  const before = openFdCount();
  const { channel, peer, transport, close } = handoffSetup(t);
  const adopting = within(adoptTransport(peer), 'the adopter to get the transport');
  const handoff = await within(
    distributeTransport(channel, transport, { preRead: new Uint8Array([1, 2, 3]), keepOpen: true }),
    'the handoff',
  );
  const adopted = await adopting;
  t.is(handoff.kind, 'fd');
  t.true(Buffer.isBuffer(adopted.preRead));
  t.deepEqual([...adopted.preRead], [1, 2, 3]);
  closeFd(adopted.fd);
  await close();
  await assertNoFdLeak(t, before);
});

// acceptAndDispatch() itself (its pool and route checks, and whether it throws or rejects) is not this
// file's business; its `listen` option is checked by dispatch/listen-socket.ts, which these tests cover.
for (const [title, listen, expected] of [
  ['missing', undefined, { code: TYPE, name: 'options.listen', received: 'undefined' }],
  ['a port number instead of options', 8080, { code: TYPE, name: 'options.listen', received: 'type number (8080)' }],
  [
    'with a port that is a name',
    { host: '127.0.0.1', port: 'http' },
    { code: TYPE, name: 'options.listen.port', received: "type string ('http')" },
  ],
  ['with port 65536', { port: 65536 }, { code: VALUE, name: 'options.listen.port', received: '65536' }],
]) {
  test.serial(
    `acceptAndDispatch(): options.listen ${title} is refused with ${expected.code} naming ${expected.name}`,
    async (t) => {
      const before = openFdCount();
      const pool = new WorkerPool({ args: [fixture('worker-http.js')], min: 0, max: 1, pingIntervalMs: 0 });
      t.teardown(() => pool.close());
      let error;
      try {
        await acceptAndDispatch({ listen, pool });
      } catch (caught) {
        error = caught;
      }
      t.is(error?.code, expected.code, String(error));
      t.true(error?.message.includes(`"${expected.name}"`), String(error));
      t.true(error?.message.endsWith(`Received ${expected.received}`), String(error));
      t.is(pool.stats().workers.length, 0, 'no worker was started');
      await assertNoFdLeak(t, before);
    },
  );
}

test.serial('OS errors of descriptor helpers name the descriptor: message and fd property', async (t) => {
  const before = openFdCount();
  const file = fs.openSync(process.execPath, 'r');
  // A number that was just closed is free; nothing else in this serial test opens one meanwhile.
  const [closed, other] = addon.socketPair('stream');
  addon.close(closed);
  for (const [call, syscall, code, fd] of [
    [() => channelFromFd(closed), 'fstat', 'EBADF', closed],
    [() => describeFd(closed), 'fstat', 'EBADF', closed],
    [() => dupFd(closed), 'dup', 'EBADF', closed],
    [() => closeFd(closed), 'close', 'EBADF', closed],
    [() => peerCredentialsOf(file), 'getsockopt', 'ENOTSOCK', file],
  ]) {
    const error = t.throws(call);
    t.like(error, { code, syscall, fd }, error.message);
    t.true(error.message.startsWith(`${syscall} ${code} (fd ${fd})`), error.message);
  }
  addon.close(other);
  fs.closeSync(file);
  await assertNoFdLeak(t, before);
});

test.serial('a channel ended by the OS names its descriptor: recvmsg ECONNRESET (fd N)', async (t) => {
  const before = openFdCount();
  const [mine, theirs] = addon.socketPair('stream');
  const channel = channelFromFd(mine);
  t.teardown(() => channel.destroy());
  const closed = once(channel, 'close', "the channel's 'close'");
  channel.on('error', () => {});
  // Closing a socket with bytes still unread in it resets the connection: our next read gets ECONNRESET.
  await within(channel.send('never read'), 'the frame to reach the peer socket');
  addon.close(theirs);
  const error = await closed;
  t.like(error, { code: 'ECONNRESET', syscall: 'recvmsg', fd: mine }, String(error));
  t.is(error?.message, `recvmsg ECONNRESET (fd ${mine})`);
  await assertNoFdLeak(t, before);
});
