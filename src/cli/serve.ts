/**
 * `portunus serve`: the daemon. Owns the listening ports, runs the workers in a WorkerPool that grows past
 * the high-water mark and retires idle workers, serves the listeners in the chosen mode, answers the control
 * socket and (optionally) a metrics endpoint, and handles the signals: SIGTERM or SIGINT drain and exit 0,
 * SIGHUP restarts the workers without dropping a connection, SIGUSR2 asks for a master upgrade.
 * @module
 */
import type http from 'node:http';
import { NOTIFY_SOCKET_ENV, notifyServiceManager, type ServiceManagerState } from '../bootstrap/index.js';
import {
  listenControl,
  listenMetrics,
  defaultControlPath,
  ServeMetrics,
  type ControlServer,
} from '../control/index.js';
import { WorkerPool, shutdownOnSignals, type Closable } from '../pool/index.js';
import {
  offerListeners,
  takeListeners,
  type TakenListeners,
  type TakeoverListener,
  type TakeoverServer,
} from '../takeover/index.js';
import { ExitCode, UsageError } from './exit-codes.js';
import { Log } from './log.js';
import { MODES, type Serving } from './modes.js';
import type { ServeConfig } from './serve-config.js';
import { startSuccessor, takeoverPathFor } from './upgrade.js';

/** How often the terminal's status line is redrawn. */
const STATUS_EVERY_MS = 1000;
/**
 * How long a new master waits for the old one to give up the control socket and the metrics port after the
 * handover (the old one closes them as it starts draining).
 */
const HANDOVER_RELEASE_MS = 10_000;

/**
 * Starts serving. Resolves with an exit code only when starting failed; once serving, the process ends
 * through its signals (shutdownOnSignals exits it).
 */
export async function serve(config: ServeConfig): Promise<number> {
  const log = new Log(config.logFormat);
  const mode = MODES[config.mode];
  if (mode.start === undefined)
    throw new UsageError(`--mode ${config.mode} (${mode.summary}) is not available in this build`);
  const unix = config.listen.find((address) => address.kind === 'unix');
  if (unix !== undefined && mode.tcpOnly === true)
    throw new UsageError(`--listen ${unix.text}: --mode ${config.mode} listens on TCP only`);
  if (mode.oneAddress === true && config.listen.length > 1)
    throw new UsageError(`--mode ${config.mode} serves one --listen address, not ${config.listen.length}`);
  if (config.min !== undefined && config.min < mode.minWorkers)
    throw new UsageError(`--min ${config.min}: --mode ${config.mode} needs at least ${mode.minWorkers} worker running`);

  const [command, ...args] = config.command;
  const pool = new WorkerPool({
    command: command!,
    args,
    min: config.min ?? Math.max(1, mode.minWorkers),
    ...(config.max === undefined ? {} : { max: config.max }),
    ...(config.highWater === undefined ? {} : { highWater: config.highWater }),
    ...(config.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: config.idleTimeoutMs }),
    drainTimeoutMs: config.drainTimeoutMs,
    // systemd's notification socket is the master's: a worker's READY=1 or STOPPING=1 would speak for the service.
    env: { [NOTIFY_SOCKET_ENV]: undefined },
  });
  watchPool(pool, log);
  const notify = (state: ServiceManagerState) => {
    try {
      notifyServiceManager(state);
    } catch (error) {
      log.warn('could not notify the service manager', failure(error));
    }
  };
  // After a handover this process is no longer the service: nothing it says may speak for it (STOPPING=1).
  let handedOver = false;

  const serving: Serving = { dispatchers: [], listeners: [] };
  const closables: Closable[] = [];
  let control: ControlServer | undefined;
  let metricsServer: http.Server | undefined;
  let taken: TakenListeners | undefined;
  let takeover: TakeoverServer | undefined;
  const offered: Record<string, TakeoverListener> = {};
  try {
    if (config.takeoverFrom !== undefined) {
      taken = await takeListeners(config.takeoverFrom);
      log.info('taking over', { from: taken.predecessorPid });
    }
    for (const [index, address] of config.listen.entries()) {
      // A new master serves the very sockets the old one listens on, by the names the old one offered.
      const name = `listen-${index}`;
      const listen =
        taken !== undefined
          ? mode.group === true
            ? { fds: taken.takeGroup(name) }
            : { fd: taken.takeFd(name) }
          : address.kind === 'tcp'
            ? { host: address.host, port: address.port }
            : { path: address.path };
      const started = await mode.start(listen, pool);
      serving.dispatchers.push(...(started.dispatchers ?? []));
      serving.listeners.push(...(started.listeners ?? []));
      offered[name] = (started.dispatchers?.[0] ?? started.listeners?.[0])!;
    }
    // Our pool serves: the old master may stop accepting now. It gives up the control socket right after.
    // From here on a new master IS the service (the old one is draining): what fails below is logged and
    // left off, never a reason to close the listeners. A first start fails instead, so that a mistake
    // (a metrics port in use, say) is seen at once.
    await taken?.ready();
    const optional = <T>(what: string, start: () => Promise<T>): Promise<T | undefined> =>
      start().catch((error: unknown) => {
        if (taken === undefined) throw error;
        log.error(`no ${what}: serving on without it`, failure(error));
        return undefined;
      });
    const metrics = new ServeMetrics({ pool, ...serving });
    const socketPath = config.socket ?? defaultControlPath();
    const own = process.getuid?.();
    const allow = [...(own === undefined ? [] : [own]), ...config.allowUids];
    takeover = await optional('takeover socket (upgrades are off)', () =>
      offerListeners({ path: takeoverPathFor(socketPath), listeners: offered, allow }),
    );
    const upgrade = takeover === undefined ? undefined : upgrader(takeover, config.argv, log);
    const target = {
      pool,
      metrics,
      mode: config.mode,
      ...serving,
      minWorkers: mode.minWorkers,
      ...(upgrade === undefined ? {} : { upgrade }),
    };
    const released = <T>(listen: () => Promise<T>) => (taken === undefined ? listen() : onceReleased(listen));
    control = await optional('control socket', () => released(() => listenControl(socketPath, target, { allow })));
    if (upgrade !== undefined) {
      // Without a handler SIGUSR2 would end the process.
      process.on('SIGUSR2', () => {
        log.info('upgrading', { signal: 'SIGUSR2' });
        upgrade().catch(() => {}); // logged by upgrader()
      });
      takeover!.once('handover', (successor) => {
        // systemd takes the exit of the service's main process for the service's end: name the new master
        // first (the old one may, even with NotifyAccess=main, as the main process it still is).
        handedOver = true;
        notify({ mainPid: successor.pid, status: `handed over to the new master ${successor.pid}; draining` });
        // Let the answer to `ctl upgrade` go out first, then drain and exit as on SIGTERM.
        setImmediate(() => process.kill(process.pid, 'SIGTERM'));
      });
    }
    control?.on('refused', ({ credentials, error }) => {
      metrics.recordRefusedPeer();
      log.warn('control client refused', { pid: credentials?.pid, uid: credentials?.uid, reason: error.message });
    });
    control?.on('command', ({ command, error }) =>
      error === undefined
        ? log.info('control command', { command })
        : log.warn('control command failed', { command, code: error.code, reason: error.message }),
    );
    const metricsAt = config.metrics;
    if (metricsAt !== undefined)
      metricsServer = await optional('metrics endpoint', () =>
        released(() => listenMetrics(metrics, metricsAt.host, metricsAt.port)),
      );
    for (const server of [...serving.dispatchers, ...serving.listeners]) {
      const listening = server.address();
      const address = typeof listening === 'string' ? listening : `${listening.address}:${listening.port}`;
      log.info('listening', { address, mode: config.mode });
    }
    if (control !== undefined) log.info('control socket', { path: socketPath });
    if (metricsServer !== undefined) {
      const { address, port } = metricsServer.address() as { address: string; port: number };
      log.info('metrics', { url: `http://${address}:${port}/metrics` });
    }
    // A new master names itself too: with NotifyAccess=all its word counts even if it arrives before the old
    // master's MAINPID= (which is what counts under NotifyAccess=main).
    notify({
      ...(taken === undefined ? {} : { mainPid: process.pid }),
      ready: true,
      status: `serving ${config.listen.map((address) => address.text).join(', ')} in ${config.mode} mode`,
    });
  } catch (error) {
    log.error('could not start', failure(error));
    taken?.close();
    await takeover?.close();
    await control?.close();
    metricsServer?.close();
    await Promise.all([...serving.dispatchers, ...serving.listeners].map((server) => server.close()));
    await pool.close();
    return ExitCode.FAILED;
  }

  // Stop taking commands and scrapes first, then stop accepting, then drain the workers.
  closables.push(
    ...(takeover === undefined ? [] : [takeover]),
    ...(control === undefined ? [] : [control]),
    ...serving.dispatchers,
    ...serving.listeners,
  );
  if (metricsServer !== undefined) {
    const server = metricsServer;
    closables.push({
      close: () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // A scrape in progress or a keep-alive scraper would hold close() open.
        server.closeAllConnections();
        return closed;
      },
    });
  }
  closables.push(pool);
  const status = setInterval(() => log.status(statusLine(pool, serving)), STATUS_EVERY_MS);
  status.unref();
  shutdownOnSignals(closables, {
    timeoutMs: config.drainTimeoutMs,
    onSignal: (signal) => {
      if (!handedOver) notify({ stopping: true, status: `draining (${signal})` });
      clearInterval(status);
      log.endStatus();
      log.info('draining', { signal });
    },
  });
  process.on('exit', (code) => {
    log.endStatus();
    log.info('stopped', { code });
  });
  process.on('SIGHUP', () => {
    log.info('restarting workers', { signal: 'SIGHUP' });
    pool.restart().then(
      () => log.info('workers restarted', { generation: pool.generation }),
      (error: Error) => log.error('restart failed; the old workers keep serving', { reason: error.message }),
    );
  });
  // Without a handler SIGUSR2 would end the process: say why nothing happens instead.
  if (takeover === undefined)
    process.on('SIGUSR2', () =>
      log.warn('SIGUSR2: this master could not open its takeover socket (logged at start): no upgrade is possible'),
    );
  return new Promise<number>(() => {});
}

/**
 * The `upgrade` command and SIGUSR2: one upgrade at a time (a second request joins the running one). Resolves
 * with the new master's pid once it took over; rejects (and logs) when it failed, and this daemon serves on.
 */
function upgrader(takeover: TakeoverServer, argv: readonly string[], log: Log): () => Promise<{ pid: number }> {
  let running: Promise<{ pid: number }> | undefined;
  return () =>
    (running ??= startSuccessor(takeover, argv).then(
      (successor) => {
        log.info('handed over', { to: successor.pid });
        return { pid: successor.pid };
      },
      (error: Error & { code?: string }) => {
        running = undefined;
        log.error('upgrade failed; this master keeps serving', { code: error.code, reason: error.message });
        throw error;
      },
    ));
}

/**
 * A new master binds the control socket and the metrics port once the old one, which has just handed over,
 * has closed them: they are in use until then (EADDRINUSE), so it tries again in short steps, up to
 * HANDOVER_RELEASE_MS.
 */
async function onceReleased<T>(listen: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + HANDOVER_RELEASE_MS;
  for (;;) {
    try {
      return await listen();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/** An error's code and message, as the log shows a failure. */
function failure(error: unknown): { code: string | undefined; reason: string } {
  return { code: (error as { code?: string }).code, reason: (error as Error).message };
}

function watchPool(pool: WorkerPool, log: Log): void {
  pool.on('ready', (worker) =>
    log.info('worker ready', { worker: worker.id, pid: worker.pid, generation: worker.generation }),
  );
  pool.on('exit', (worker, exit) =>
    log.info('worker exited', {
      worker: worker.id,
      pid: worker.pid,
      code: exit.code,
      signal: exit.signal,
      expected: exit.expected,
    }),
  );
  pool.on('crash', ({ worker, error, respawnInMs }) =>
    log.error('worker failed', { worker: worker.id, code: error.code, reason: error.message, respawnInMs }),
  );
  pool.on('scale', ({ direction, workers, reason }) => log.info(`scale ${direction}`, { workers, reason }));
  pool.on('unhealthy', (worker, error) => log.warn('worker unhealthy', { worker: worker.id, reason: error.message }));
}

function statusLine(pool: WorkerPool, serving: Serving): string {
  const stats = pool.stats();
  const count = (state: string) => stats.workers.filter((w) => w.state === state).length;
  let handedOff = 0;
  let inFlight = 0;
  let pending = 0;
  for (const dispatcher of serving.dispatchers) {
    const s = dispatcher.stats();
    handedOff += s.handedOff;
    inFlight += s.inFlight;
    pending += s.pending;
  }
  const traffic =
    serving.dispatchers.length > 0 ? ` · ${handedOff} handed off · ${inFlight} in flight · ${pending} waiting` : '';
  return `portunus: gen ${stats.generation} · ${count('ready')} ready · ${count('starting')} starting · ${count('draining')} draining${traffic}`;
}
