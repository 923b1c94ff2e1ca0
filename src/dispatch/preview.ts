/**
 * Reading the first bytes of a connection so that `route()` can look at them: until `complete()` says
 * enough (by default, the first bytes that arrive), within a bounded prefix and a bounded wait. Slow or silent clients are routed with what they sent by the deadline (possibly nothing); nothing a
 * client sends can make the master buffer more than one read past `maxBytes`.
 * @module
 */
import type net from 'node:net';
import type { ProxyHeader } from './proxy-protocol.js';

/** Bounds on what the dispatcher reads from a connection before calling `route()`. */
export interface PreviewOptions {
  /** Stop reading once this many bytes have arrived. */
  maxBytes: number;
  /** Stop waiting after this many milliseconds. */
  timeoutMs: number;
  /**
   * Says whether the bytes so far are enough to route (for HTTP: the head is complete). Called after each
   * read; reading stops when it returns true. Default: any bytes are enough.
   */
  complete: (bytes: Buffer) => boolean;
}

/** What `route()` sees of a connection. */
export interface RoutePreview {
  /** The bytes read so far; they travel with the socket to the worker. */
  bytes: Buffer;
  /** The client's address, undefined if the connection is gone. */
  remoteAddress: string | undefined;
  /** The client's port, undefined if the connection is gone. */
  remotePort: number | undefined;
  /** The deadline passed before `maxBytes` arrived. */
  timedOut: boolean;
  /** The client finished sending (half-close) before `maxBytes` arrived. */
  ended: boolean;
  /**
   * The PROXY protocol header the connection started with (`acceptProxyProtocol`); `bytes` and the worker
   * do not see it, and `remoteAddress`/`remotePort` are its source, the real client.
   */
  proxy?: ProxyHeader;
}

/**
 * @internal Reads up to `maxBytes` or until `timeoutMs`; leaves the socket paused with its listeners removed.
 * The dispatcher's route() and the tcpmux server (its name line) read with it. `initial`: bytes already read
 * from the socket (after a PROXY header, say), counted as if read now.
 */
export function readPreview(socket: net.Socket, options: PreviewOptions, initial?: Buffer): Promise<RoutePreview> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const done = () => {
      if (length >= options.maxBytes) return true;
      try {
        return options.complete(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length));
      } catch {
        // complete() runs in a 'data' listener: a throw there would end the process. Reading stops, and
        // route() meets the same bytes.
        return true;
      }
    };
    const finish = (timedOut: boolean, ended: boolean) => {
      clearTimeout(timer);
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      resolve({
        bytes: Buffer.concat(chunks, length),
        remoteAddress: socket.remoteAddress,
        remotePort: socket.remotePort,
        timedOut,
        ended,
      });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (done()) finish(false, false);
    };
    const onEnd = () => finish(false, true);
    const onError = (error: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      reject(error);
    };
    let timer: NodeJS.Timeout | undefined = undefined;
    if (initial !== undefined && initial.length > 0) {
      chunks.push(initial);
      length = initial.length;
      if (done()) {
        finish(false, false);
        return;
      }
    }
    timer = setTimeout(() => finish(true, false), options.timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onError);
    // A socket an earlier preview paused does not flow again just because 'data' has a listener.
    socket.resume();
  });
}
