/**
 * What `portunus serve` tells the person or the log collector watching it, on stderr: with --log-format
 * json one JSON object per line ({ time, level, msg, …fields }); with text, plain timestamped lines when
 * stderr is a file or a pipe, and on a terminal the same lines above a status line that is redrawn in place.
 * @module
 */
import { format } from 'node:util';
import type { LogFormat } from './serve-config.js';

export type Level = 'info' | 'warn' | 'error';

export class Log {
  readonly #format: LogFormat;
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  #status = '';

  constructor(logFormat: LogFormat, stream: NodeJS.WriteStream = process.stderr) {
    this.#format = logFormat;
    this.#stream = stream;
    this.#tty = logFormat === 'text' && stream.isTTY === true;
  }

  info(msg: string, fields: Record<string, unknown> = {}): void {
    this.#write('info', msg, fields);
  }

  warn(msg: string, fields: Record<string, unknown> = {}): void {
    this.#write('warn', msg, fields);
  }

  error(msg: string, fields: Record<string, unknown> = {}): void {
    this.#write('error', msg, fields);
  }

  /** Sets the status line; shown only on a terminal (elsewhere it would repeat the log). */
  status(text: string): void {
    if (!this.#tty || text === this.#status) return;
    this.#status = text;
    this.#stream.write(`\r\x1b[K${text}`);
  }

  /** Removes the status line, before the process exits. */
  endStatus(): void {
    if (this.#tty && this.#status !== '') this.#stream.write('\r\x1b[K');
    this.#status = '';
  }

  #write(level: Level, msg: string, fields: Record<string, unknown>): void {
    const time = new Date().toISOString();
    if (this.#format === 'json') {
      this.#stream.write(`${JSON.stringify({ time, level, msg, ...fields })}\n`);
      return;
    }
    const details = Object.entries(fields)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : format('%j', value)}`)
      .join(' ');
    const line = `${time} ${level.padEnd(5)} ${msg}${details === '' ? '' : ` ${details}`}\n`;
    // On a terminal, the line goes above the status line, which is drawn again below it.
    if (this.#tty && this.#status !== '') this.#stream.write(`\r\x1b[K${line}${this.#status}`);
    else this.#stream.write(line);
  }
}
