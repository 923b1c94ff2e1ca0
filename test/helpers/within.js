// Bounds every wait in the channel tests: a promise that does not settle in time becomes a failure that
// names what did not happen, instead of a test hanging until ava's global timeout.

/** Default bound on one step of a test (a reply, an exit), generous for a loaded 2-core machine. */
export const STEP_MS = 10_000;

/** Rejects after `ms` with a message naming what did not happen; otherwise settles like `promise`. */
export function within(promise, what, ms = STEP_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the arguments of the next `event` of `emitter` (an array when there are several). */
export function once(emitter, event, what = `'${event}'`, ms = STEP_MS) {
  return within(
    new Promise((resolve) => emitter.once(event, (...args) => resolve(args.length > 1 ? args : args[0]))),
    what,
    ms,
  );
}

/**
 * Resolves with the next message `channel` receives and whatever `take(message)` returned: `take` runs inside
 * the listener, where a message's descriptors can still be taken (they are closed when listeners return).
 */
export function nextMessage(channel, take = () => undefined, ms = STEP_MS) {
  return within(
    new Promise((resolve) => channel.once('message', (message) => resolve({ message, taken: take(message) }))),
    'a message',
    ms,
  );
}

/** Polls `condition` every 10 ms until it is true; rejects naming `what` after `ms`. */
export async function until(condition, what, ms = STEP_MS) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
