/**
 * The addresses `serve --listen` takes: tcp://HOST:PORT (IPv6 in brackets: tcp://[::1]:8080) and
 * unix:/path. Parsed into what the dispatch layer's `listen` option takes.
 * @module
 */
import net from 'node:net';
import { UsageError } from './exit-codes.js';

/** One listening address. */
export type ListenAddress =
  { kind: 'tcp'; host: string; port: number; text: string } | { kind: 'unix'; path: string; text: string };

/** Parses `text`; `where` names the flag or config key for the error message. */
export function parseListenAddress(text: string, where: string): ListenAddress {
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length);
    if (path === '' || !path.startsWith('/'))
      throw new UsageError(`${where}: ${JSON.stringify(text)} needs an absolute path (unix:/run/app.sock)`);
    return { kind: 'unix', path, text };
  }
  const match = /^tcp:\/\/(\[[^\]]+\]|[^:/[\]]+):([0-9]{1,5})$/.exec(text);
  if (match === null) throw new UsageError(`${where}: ${JSON.stringify(text)} is not tcp://HOST:PORT or unix:/PATH`);
  const host = match[1]!.startsWith('[') ? match[1]!.slice(1, -1) : match[1]!;
  const port = Number(match[2]);
  if (port > 65535) throw new UsageError(`${where}: port ${port} is above 65535`);
  if (match[1]!.startsWith('[') && net.isIPv6(host) === false)
    throw new UsageError(`${where}: ${JSON.stringify(host)} is not an IPv6 address`);
  return { kind: 'tcp', host, port, text };
}

/** HOST:PORT for `--metrics` (no scheme). */
export function parseHostPort(text: string, where: string): { host: string; port: number } {
  try {
    const parsed = parseListenAddress(`tcp://${text}`, where);
    if (parsed.kind === 'tcp') return { host: parsed.host, port: parsed.port };
  } catch {
    // Said below, without the tcp:// this function added.
  }
  throw new UsageError(`${where}: ${JSON.stringify(text)} is not HOST:PORT (127.0.0.1:9100)`);
}
