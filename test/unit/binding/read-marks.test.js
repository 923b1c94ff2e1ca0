// src/binding/read-marks.ts, the one TypeScript reader of the native endpoint's `marks` (layout in
// native/unix/read-marks.h): per read that carried control data, [offset, length, count, truncated, fd x count].
import test from 'ava';
import { TRUNCATED, closeMarkedFds, forEachArrival } from '../../../dist/binding/read-marks.js';

// Two reads with descriptors, a truncated one, and one that carried control data but no descriptor
// (SCM_CREDENTIALS alone).
const MARKS = Int32Array.from([0, 10, 2, 0, 7, 8, 10, 5, 0, 1, 15, 3, 0, 0, 18, 4, 1, 0, 9]);

test('forEachArrival: every descriptor with the range of its read, a truncated read as TRUNCATED', (t) => {
  const seen = [];
  forEachArrival(MARKS, (fd, offset, length) => seen.push([fd, offset, length]));
  t.deepEqual(seen, [
    [7, 0, 10],
    [8, 0, 10],
    [TRUNCATED, 10, 5],
    [9, 18, 4],
  ]);
});

test('closeMarkedFds closes the descriptors and nothing for a truncated read', (t) => {
  const closed = [];
  closeMarkedFds(MARKS, (fd) => closed.push(fd));
  t.deepEqual(closed, [7, 8, 9]);
});

test('empty marks visit nothing', (t) => {
  forEachArrival(new Int32Array(0), () => t.fail());
  t.pass();
});
