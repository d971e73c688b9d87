// Small statistics and formatting helpers for the benchmark report.

/**
 * Nearest-rank percentile of a sample (q in 0..1).
 *
 * @param {number[]} sorted ascending
 * @param {number} q
 */
export function percentile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return /** @type {number} */ (sorted[rank - 1]);
}

/**
 * Summary of a sample of durations in milliseconds.
 *
 * @param {number[]} samples
 */
export function summarize(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
  };
}

/** @param {number} value milliseconds */
export function ms(value, digits = 2) {
  return Number.isFinite(value) ? `${value.toFixed(digits)} ms` : 'n/a';
}

/** @param {number} value milliseconds, shown in microseconds */
export function us(value) {
  return Number.isFinite(value) ? `${(value * 1_000).toFixed(0)} µs` : 'n/a';
}

/** @param {number} bytes */
export function mib(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** @param {number} value */
export function ratio(value) {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : 'n/a';
}

/** Rounds every number in a summary for the JSON file (microsecond resolution). */
export function rounded(summary) {
  return Object.fromEntries(
    Object.entries(summary).map(([key, value]) => [
      key,
      typeof value === 'number' && !Number.isInteger(value) ? Math.round(value * 1_000) / 1_000 : value,
    ]),
  );
}

/**
 * Rejects after `timeoutMs` unless `promise` settles first.
 *
 * @template T
 * @param {Promise<T>} promise
 * @param {number} timeoutMs
 * @param {string} what
 * @returns {Promise<T>}
 */
export function withTimeout(promise, timeoutMs, what) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
