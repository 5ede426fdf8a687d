// Retention (XEP-0313 §3.2): messages older than `[mam] expires_after` are deleted, oldest first,
// so the archive has no holes. Pruning runs periodically in small batches, each its own turn of
// the event loop, so that a large backlog never holds up stanzas.
import { invalid } from "../config/values.ts";
import type { ArchiveStore } from "./archive_store.ts";

const HOUR_MS = 60 * 60 * 1000;
/**
 * Rows deleted per turn of the event loop: deleting one costs about 30 µs in a large archive
 * (four indexes), so a batch holds stanzas up by a few milliseconds at most.
 */
export const PRUNE_BATCH = 200;
const DAY_MS = 24 * HOUR_MS;
/** Prosody's `archive_expires_after` units: h(ours), d(ays), w(eeks), m(onths), y(ears). */
const UNITS: Readonly<Record<string, number>> = {
  h: HOUR_MS,
  d: DAY_MS,
  w: 7 * DAY_MS,
  m: 31 * DAY_MS,
  y: 365.2425 * DAY_MS,
};

/**
 * Reads `expires_after`: `"never"` or `0` keeps messages forever; otherwise a count and a unit
 * (`"1w"`, `"30d"`, `"6m"`, `"1y"`, `"12h"`), as Prosody's `archive_expires_after`. In ms.
 */
export function readExpiry(key: string, value: unknown): number {
  if (value === 0 || value === "never" || value === "0") return 0;
  const match = typeof value === "string" ? /^(\d{1,6})\s*([hdwmy])$/.exec(value) : null;
  if (match === null || Number(match[1]) === 0) {
    invalid(key, '"never", 0, or a duration such as "1w", "30d", "6m", "1y"', value);
  }
  return Math.round(Number(match[1]) * UNITS[match[2]]);
}

/** How pruning runs. */
export interface PruneOptions {
  /** Age past which messages go, ms; 0 never prunes. */
  expireAfterMs: number;
  /** Between two prunings, ms. */
  intervalMs?: number;
  /** Rows deleted per turn of the event loop. */
  batch?: number;
  now?: () => number;
  log(line: string): void;
}

/** Prunes `store` now and then every `intervalMs`; returns the function that stops it. */
export function schedulePruning(store: ArchiveStore, options: PruneOptions): () => void {
  if (options.expireAfterMs === 0) return () => {};
  const interval = options.intervalMs ?? HOUR_MS;
  const batch = options.batch ?? PRUNE_BATCH;
  const now = options.now ?? Date.now;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let deleted = 0;
  const later = (fn: () => void, ms: number) => {
    const handle = setTimeout(fn, ms);
    Deno.unrefTimer(handle);
    timer = handle;
  };
  const run = () => {
    if (stopped) return;
    let removed = 0;
    try {
      removed = store.prune(now() - options.expireAfterMs, batch);
    } catch (error) {
      options.log(
        `error pruning the message archive: ${error instanceof Error ? error.message : error}`,
      );
    }
    deleted += removed;
    if (removed === batch) return later(run, 0);
    if (deleted > 0) options.log(`message archive: ${deleted} expired messages deleted`);
    deleted = 0;
    later(run, interval);
  };
  later(run, 0);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
