/**
 * The layout of `marks`, the descriptors that came with one batch of reads from the native endpoint
 * (written by native/unix/read-marks.h). This module is the only TypeScript that reads it. For each read
 * that carried control data, one record: `[offset, length, count, truncated, fd × count]`, where offset and
 * length locate that read's bytes in the batch's data, and truncated is 1 when the read's descriptors were
 * lost (MSG_CTRUNC) and those that did arrive were closed natively (count is then 0).
 * @module
 */

/** Stands in for the descriptors of a truncated read, in place of a descriptor. */
export const TRUNCATED = -1;

const OFFSET = 0;
const LENGTH = 1;
const COUNT = 2;
const TRUNCATED_FLAG = 3;
const FDS = 4;

/**
 * Calls `visit` once for each descriptor in `marks`, with the range of the batch's data that the read it came
 * with filled; for a truncated read, once with `TRUNCATED` instead.
 */
export function forEachArrival(marks: Int32Array, visit: (fd: number, offset: number, length: number) => void): void {
  for (let record = 0; record < marks.length;) {
    const offset = marks[record + OFFSET]!;
    const length = marks[record + LENGTH]!;
    const first = record + FDS;
    const end = first + marks[record + COUNT]!;
    if (marks[record + TRUNCATED_FLAG] === 1) visit(TRUNCATED, offset, length);
    for (let i = first; i < end; i++) visit(marks[i]!, offset, length);
    record = end;
  }
}

/** Closes every descriptor in `marks` (a batch that arrived after its receiver had gone). */
export function closeMarkedFds(marks: Int32Array, close: (fd: number) => void): void {
  forEachArrival(marks, (fd) => {
    if (fd !== TRUNCATED) close(fd);
  });
}
