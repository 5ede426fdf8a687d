// The last minutes of stanza rates for the status page's plot: every second, how many stanzas
// the server received from and sent to clients since the previous second. Kept on the server,
// so that a page opened now shows the minutes before it, and one timer serves every viewer.
import type { Metrics } from "../metrics/metrics.ts";

/** One second of traffic: when it ended (ms since the epoch), stanzas in and out. */
export interface RatePoint {
  t: number;
  in: number;
  out: number;
}

/** Options of {@linkcode RateHistory}. */
export interface RateHistoryOptions {
  /** Points kept (one a second): 300 is five minutes. */
  length?: number;
  /** The counters' family names. */
  inCounter?: string;
  outCounter?: string;
  now?: () => number;
}

/** A ring of per-second rates, read from two counters of the registry. */
export class RateHistory {
  #metrics: Metrics;
  #length: number;
  #names: [string, string];
  #now: () => number;
  #points: RatePoint[] = [];
  #last: { t: number; in: number; out: number } | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(metrics: Metrics, options: RateHistoryOptions = {}) {
    this.#metrics = metrics;
    this.#length = options.length ?? 300;
    this.#names = [
      options.inCounter ?? "verona_c2s_stanzas_in",
      options.outCounter ?? "verona_c2s_stanzas_out",
    ];
    this.#now = options.now ?? Date.now;
  }

  /** Samples every `intervalMs` until {@linkcode stop}; the timer keeps no process alive. */
  start(intervalMs = 1000): void {
    this.sample();
    const timer = setInterval(() => this.sample(), intervalMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Takes one point: the counters' growth since the last sample, per second. */
  sample(): void {
    const t = this.#now();
    const totalIn = this.#metrics.findCounter(this.#names[0])?.total() ?? 0;
    const totalOut = this.#metrics.findCounter(this.#names[1])?.total() ?? 0;
    const last = this.#last;
    this.#last = { t, in: totalIn, out: totalOut };
    if (last === null || t <= last.t) return;
    const seconds = (t - last.t) / 1000;
    this.#points.push({
      t,
      in: round((totalIn - last.in) / seconds),
      out: round((totalOut - last.out) / seconds),
    });
    if (this.#points.length > this.#length) this.#points.shift();
  }

  /** The points, oldest first. */
  points(): readonly RatePoint[] {
    return this.#points;
  }
}

function round(rate: number): number {
  return Math.round(rate * 100) / 100;
}
