// Small pieces every benchmark script shares: integer knobs from the environment, and medians.

/** An integer knob from the environment (`fallback` when unset or empty); throws below `min`. */
export function integerEnv(name, fallback, min = 1) {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min)
    throw new Error(`${name} must be an integer >= ${min}, not ${JSON.stringify(value)}`);
  return number;
}

/** Median of the finite values (mean of the middle two for an even count); NaN when there are none. */
export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
