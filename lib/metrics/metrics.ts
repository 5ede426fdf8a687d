// Server metrics in the OpenMetrics text format (the Prometheus exposition format's standard
// successor): counters that code increments where things happen, and gauges read only when the
// metrics are collected, so that a gauge costs nothing between scrapes.
//
// Counters are plain numbers in a map keyed by their label values: an increment on a hot path
// (every stanza) is one map lookup and an addition.

/** Label values of one sample, in the order of the metric's label names. */
export type LabelValues = readonly string[];

/** A monotonically increasing count (`_total` is appended to its name when rendered). */
export class Counter {
  readonly name: string;
  readonly help: string;
  readonly labels: readonly string[];
  #values = new Map<string, { labels: LabelValues; value: number }>();

  constructor(name: string, help: string, labels: readonly string[] = []) {
    this.name = name;
    this.help = help;
    this.labels = labels;
  }

  /** Adds `by` (default 1) to the sample with these label values. */
  inc(labels: LabelValues = [], by = 1): void {
    const key = labels.length === 0 ? "" : labels.join("\u0000");
    const sample = this.#values.get(key);
    if (sample === undefined) this.#values.set(key, { labels: [...labels], value: by });
    else sample.value += by;
  }

  /** The current value of one sample (0 when never incremented). */
  value(labels: LabelValues = []): number {
    return this.#values.get(labels.join("\u0000"))?.value ?? 0;
  }

  samples(): { labels: LabelValues; value: number }[] {
    return [...this.#values.values()];
  }
}

/** A value read at collection time: one number, or one per set of label values. */
export interface Gauge {
  readonly name: string;
  readonly help: string;
  readonly labels?: readonly string[];
  /** The unit suffix OpenMetrics declares with `# UNIT` (e.g. "bytes", "seconds"). */
  readonly unit?: string;
  read(): number | { labels: LabelValues; value: number }[];
}

/** A histogram-like summary of durations: count and sum, the cheapest form OpenMetrics allows. */
export class Timing {
  readonly name: string;
  readonly help: string;
  count = 0;
  sum = 0;
  /** The largest value seen since the last collection. */
  max = 0;

  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }

  observe(seconds: number): void {
    this.count++;
    this.sum += seconds;
    if (seconds > this.max) this.max = seconds;
  }
}

/** Every metric of the server; rendered by `/metrics` (lib/metrics/mod.ts). */
export class Metrics {
  #counters = new Map<string, Counter>();
  #gauges = new Map<string, Gauge>();
  #timings = new Map<string, Timing>();

  /** The counter of that name, created on first use (names must be unique across kinds). */
  counter(name: string, help: string, labels: readonly string[] = []): Counter {
    let counter = this.#counters.get(name);
    if (counter === undefined) {
      counter = new Counter(name, help, labels);
      this.#counters.set(name, counter);
    }
    return counter;
  }

  /** Adds (or replaces) a gauge read at collection time. */
  gauge(gauge: Gauge): void {
    this.#gauges.set(gauge.name, gauge);
  }

  /** The timing of that name (seconds), created on first use. */
  timing(name: string, help: string): Timing {
    let timing = this.#timings.get(name);
    if (timing === undefined) {
      timing = new Timing(name, help);
      this.#timings.set(name, timing);
    }
    return timing;
  }

  /** Every current value by name (counters with `_total`), for the status page's JSON. */
  snapshot(): Record<string, number | Record<string, number>> {
    const out: Record<string, number | Record<string, number>> = {};
    const put = (name: string, samples: { labels: LabelValues; value: number }[]) => {
      if (samples.length === 1 && samples[0].labels.length === 0) out[name] = samples[0].value;
      else out[name] = Object.fromEntries(samples.map((s) => [s.labels.join(","), s.value]));
    };
    for (const counter of this.#counters.values()) {
      put(`${counter.name}_total`, counter.samples());
    }
    for (const gauge of this.#gauges.values()) put(gauge.name, readGauge(gauge));
    for (const timing of this.#timings.values()) {
      out[`${timing.name}_count`] = timing.count;
      out[`${timing.name}_sum`] = timing.sum;
    }
    return out;
  }

  /** The OpenMetrics text exposition, ending with `# EOF`. */
  render(): string {
    const lines: string[] = [];
    for (const counter of this.#counters.values()) {
      lines.push(
        `# TYPE ${counter.name} counter`,
        `# HELP ${counter.name} ${escapeHelp(counter.help)}`,
      );
      const samples = counter.samples();
      if (samples.length === 0 && counter.labels.length === 0) {
        lines.push(`${counter.name}_total 0`);
      }
      for (const sample of samples) {
        lines.push(
          `${counter.name}_total${labelSet(counter.labels, sample.labels)} ${sample.value}`,
        );
      }
    }
    for (const gauge of this.#gauges.values()) {
      lines.push(`# TYPE ${gauge.name} gauge`);
      if (gauge.unit) lines.push(`# UNIT ${gauge.name} ${gauge.unit}`);
      lines.push(`# HELP ${gauge.name} ${escapeHelp(gauge.help)}`);
      for (const sample of readGauge(gauge)) {
        lines.push(`${gauge.name}${labelSet(gauge.labels ?? [], sample.labels)} ${sample.value}`);
      }
    }
    for (const timing of this.#timings.values()) {
      lines.push(
        `# TYPE ${timing.name} summary`,
        `# UNIT ${timing.name} seconds`,
        `# HELP ${timing.name} ${escapeHelp(timing.help)}`,
        `${timing.name}_count ${timing.count}`,
        `${timing.name}_sum ${timing.sum}`,
      );
    }
    lines.push("# EOF");
    return lines.join("\n") + "\n";
  }
}

function readGauge(gauge: Gauge): { labels: LabelValues; value: number }[] {
  const value = gauge.read();
  return typeof value === "number" ? [{ labels: [], value }] : value;
}

function labelSet(names: readonly string[], values: LabelValues): string {
  if (names.length === 0) return "";
  const pairs = names.map((name, i) => `${name}="${escapeLabel(values[i] ?? "")}"`);
  return `{${pairs.join(",")}}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}
