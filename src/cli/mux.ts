/**
 * `portunus mux`: a TCPMUX server (RFC 1078) and its service registry as a daemon. Processes of the allowed
 * uids register names with `registerService()` at the registry socket; clients reach them by name on the TCP
 * port. SIGTERM or SIGINT close the port and the registry and exit 0.
 * @module
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultControlPath } from '../control/index.js';
import { openServiceRegistry, serveTcpmux } from '../mux/index.js';
import { shutdownOnSignals } from '../pool/index.js';
import { ExitCode, UsageError } from './exit-codes.js';
import { parseListenAddress } from './listen-address.js';
import { Log } from './log.js';
import type { LogFormat } from './serve-config.js';

const MUX_OPTIONS = {
  listen: { type: 'string' },
  registry: { type: 'string' },
  'allow-uid': { type: 'string', multiple: true },
  'share-names': { type: 'boolean' },
  'name-timeout': { type: 'string' },
  'proxy-protocol': { type: 'boolean' },
  'log-format': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What `portunus mux` was asked to do. */
export interface MuxConfig {
  listen: { host: string; port: number };
  registry: string;
  allowUids: number[] | undefined;
  shareAcrossUids: boolean;
  nameTimeoutMs: number | undefined;
  acceptProxyProtocol: boolean;
  logFormat: LogFormat;
}

/** The registry socket's default: beside the default control socket, in the same private directory. */
export function defaultRegistryPath(): string {
  return path.join(path.dirname(defaultControlPath()), 'mux.sock');
}

/** Parses `mux`'s arguments (after the word `mux`). Returns undefined when `--help` was asked for. */
export function parseMuxArgs(argv: readonly string[]): MuxConfig | undefined {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: MUX_OPTIONS, allowPositionals: false, strict: true }));
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  if (values.help === true) return undefined;
  if (values.listen === undefined) throw new UsageError('--listen is required (tcp://HOST:PORT)');
  const listen = parseListenAddress(values.listen, '--listen');
  if (listen.kind !== 'tcp') throw new UsageError(`--listen ${listen.text}: tcpmux listens on TCP only`);
  const registry = values.registry ?? defaultRegistryPath();
  if (!path.isAbsolute(registry)) throw new UsageError(`--registry ${JSON.stringify(registry)}: an absolute path`);
  const allowUids = values['allow-uid']?.map((text) => {
    if (!/^[0-9]{1,10}$/.test(text)) throw new UsageError(`--allow-uid: ${JSON.stringify(text)} is not a uid`);
    return Number(text);
  });
  let nameTimeoutMs: number | undefined;
  if (values['name-timeout'] !== undefined) {
    const seconds = Number(values['name-timeout']);
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600)
      throw new UsageError(`--name-timeout: ${JSON.stringify(values['name-timeout'])} is not 0 < seconds <= 3600`);
    nameTimeoutMs = Math.max(1, Math.round(seconds * 1000));
  }
  const logFormat = values['log-format'] ?? 'text';
  if (logFormat !== 'text' && logFormat !== 'json')
    throw new UsageError(`--log-format: ${JSON.stringify(logFormat)} is not text or json`);
  return {
    listen: { host: listen.host, port: listen.port },
    registry,
    // With --allow-uid, this process's own uid stays allowed: the operator does not lock themselves out.
    allowUids: allowUids === undefined ? undefined : [...new Set([process.getuid?.() ?? 0, ...allowUids])],
    shareAcrossUids: values['share-names'] === true,
    nameTimeoutMs,
    acceptProxyProtocol: values['proxy-protocol'] === true,
    logFormat,
  };
}

/**
 * Starts the registry and the tcpmux server. Resolves with an exit code only when starting failed; once
 * serving, the process ends through its signals (shutdownOnSignals exits it).
 */
export async function mux(config: MuxConfig): Promise<number> {
  const log = new Log(config.logFormat);
  let registry;
  try {
    registry = await openServiceRegistry({
      path: config.registry,
      shareAcrossUids: config.shareAcrossUids,
      ...(config.allowUids === undefined ? {} : { allow: config.allowUids }),
    });
  } catch (error) {
    log.error(`cannot open the registry at ${config.registry}: ${(error as Error).message}`);
    return ExitCode.FAILED;
  }
  let server;
  try {
    server = await serveTcpmux({
      listen: config.listen,
      registry,
      acceptProxyProtocol: config.acceptProxyProtocol,
      ...(config.nameTimeoutMs === undefined ? {} : { nameTimeoutMs: config.nameTimeoutMs }),
    });
  } catch (error) {
    await registry.close();
    log.error(`cannot listen on ${config.listen.host}:${config.listen.port}: ${(error as Error).message}`);
    return ExitCode.FAILED;
  }
  const { address, port } = server.address();
  log.info(`tcpmux on ${address}:${port}, registry at ${config.registry}`, {
    address,
    port,
    registry: config.registry,
  });
  registry.on('register', ({ name, credentials }) =>
    log.info(`registered ${name} (pid ${credentials.pid}, uid ${credentials.uid})`, { name, ...credentials }),
  );
  registry.on('unregister', ({ name, credentials }) =>
    log.info(`unregistered ${name} (pid ${credentials.pid})`, { name, pid: credentials.pid }),
  );
  server.on('refuse', ({ name, error }) =>
    log.info(`refused ${name ?? '(no name)'}: ${error.message}`, { code: error.code }),
  );
  server.on('error', (error) => log.error(`listening socket: ${error.message}`));
  // The port first (no new clients), then the registry (the registrants see their registrations end).
  shutdownOnSignals([server, registry]);
  return ExitCode.OK;
}
