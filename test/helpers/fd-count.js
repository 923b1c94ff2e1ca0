// Open descriptor counts for leak checks: every integration test compares the count before and after.
import fs from 'node:fs';

/** Number of descriptors this process has open (Linux /proc, else /dev/fd). */
export function openFdCount() {
  const directory = fs.existsSync('/proc/self/fd') ? '/proc/self/fd' : '/dev/fd';
  // readdirSync opens the directory itself while it lists it: that descriptor is not ours to count.
  return fs.readdirSync(directory).length - 1;
}

/**
 * Asserts that the count returns to `before` (or below). Closing is asynchronous in Node (a destroyed socket closes its
 * descriptor on a later tick), so the count is polled for up to `timeoutMs` before the assertion is made.
 */
export async function assertNoFdLeak(t, before, timeoutMs = 2000) {
  const deadline = Date.now() + timeoutMs;
  let now = openFdCount();
  while (now > before && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    now = openFdCount();
  }
  // Fewer than before is no leak: a descriptor the process already had when the test began (seen once under
  // Node 22, in the first test of a file) was closed meanwhile.
  if (now < before) t.log(`open descriptors: ${before} before, ${now} after (one held before the test was closed)`);
  t.true(now <= before, `open descriptors: ${before} before, ${now} after`);
}
