/**
 * Splits a byte stream into request lines of bounded length. A control client is a person's tool or a
 * script, not a trusted peer: it may send garbage, never send a newline, or send a megabyte at once, and the
 * daemon must answer it without buffering without limit. Bytes are kept only until their line ends; a line
 * that passes the limit is reported once and everything after it is ignored (the connection is then closed
 * by the server, since where the next request starts cannot be known).
 * @module
 */

/** What a chunk of input produced: complete lines, and whether the limit was passed. */
export interface LineBatch {
  /** Complete lines, without their '\n' (and without a '\r' before it). */
  lines: string[];
  /** A line passed `maxLineBytes` before its newline: nothing more will be read. */
  overlong: boolean;
}

export class LineReader {
  readonly #maxLineBytes: number;
  #partial: Buffer[] = [];
  #partialBytes = 0;
  #overlong = false;

  /** `maxLineBytes` counts a line's bytes without its newline. */
  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  /** Feeds a chunk; returns the lines it completed. After an overlong line, always `{ lines: [], overlong: true }`. */
  push(chunk: Buffer): LineBatch {
    const lines: string[] = [];
    if (this.#overlong) return { lines, overlong: true };
    let start = 0;
    for (let newline = chunk.indexOf(10, start); newline !== -1; newline = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, newline);
      if (this.#partialBytes + piece.length > this.#maxLineBytes) return this.#tooLong(lines);
      const line = this.#partialBytes === 0 ? piece : Buffer.concat([...this.#partial, piece]);
      this.#partial = [];
      this.#partialBytes = 0;
      lines.push(line.toString('utf8').replace(/\r$/, ''));
      start = newline + 1;
    }
    const rest = chunk.subarray(start);
    if (this.#partialBytes + rest.length > this.#maxLineBytes) return this.#tooLong(lines);
    if (rest.length > 0) {
      this.#partial.push(Buffer.from(rest));
      this.#partialBytes += rest.length;
    }
    return { lines, overlong: false };
  }

  #tooLong(lines: string[]): LineBatch {
    this.#overlong = true;
    this.#partial = [];
    this.#partialBytes = 0;
    return { lines, overlong: true };
  }
}
