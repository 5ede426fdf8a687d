// One monotonic clock for arrival times and step starts.

let last = -Infinity;

/**
 * `performance.now()`, made strictly increasing: stamps taken on this thread
 * order events exactly as they happened, even within the timer's resolution,
 * so "arrived before the previous step started" is never a tie.
 */
export function now(): number {
  const t = performance.now();
  last = t > last ? t : last + 1e-6;
  return last;
}
