// Server metrics in the OpenMetrics text format (the Prometheus exposition format's standard
// successor): counters that code increments where things happen, and gauges read only when the
// metrics are collected, so that a gauge costs nothing between scrapes. OpenMetrics 1.0
// (https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md):
// §Text format (ABNF: escaping, `# EOF`), §MetricFamily (TYPE, UNIT, HELP; a unit is the name's
// suffix), §Counter (`_total` samples), §Summary (`_count`, `_sum`); and, for scrapers that ask
// for it, the Prometheus text format 0.0.4 (no UNIT, no EOF, counters TYPE'd with `_total`).
//
// Counters are plain numbers in a map keyed by their label values: an increment on a hot path
// (every stanza) is one map lookup and an addition.

/** Label values of one sample, in the order of the metric's label names. */
export type LabelValues = readonly string[];

/** One sample of a family: its label values and its value. */
export interface Sample {
  readonly labels: LabelValues;
  value: number;
}

/** The two text formats `/metrics` can answer in (see {@linkcode negotiateFormat}). */
export type ExpositionFormat = "openmetrics" | "prometheus";

/** Content types of the formats, as sent in `Content-Type`. */
export const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = {
  openmetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8",
  prometheus: "text/plain; version=0.0.4; charset=utf-8",
};

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// Suffixes OpenMetrics gives samples of counters and summaries; a family named so would clash.
const RESERVED_SUFFIX = /_(total|created|count|sum|bucket|gcount|gsum|info)$/;

function checkName(name: string, labels: readonly string[] = []): void {
  if (!METRIC_NAME.test(name) || RESERVED_SUFFIX.test(name)) {
    throw new TypeError(
      `Cannot register metric "${name}": not a metric name, or it ends in a suffix reserved for samples`,
    );
  }
  for (const label of labels) {
    if (!LABEL_NAME.test(label) || label.startsWith("__")) {
      throw new TypeError(`Cannot register metric "${name}": bad label name "${label}"`);
    }
  }
}

// One label: the value itself (no join, nothing allocated); several: joined by NUL.
function keyOf(labels: LabelValues): string {
  return labels.length === 0 ? "" : labels.length === 1 ? labels[0] : labels.join("\u0000");
}

/** A monotonically increasing count (`_total` is appended to its name when rendered). */
export class Counter {
  readonly name: string;
  readonly help: string;
  readonly labels: readonly string[];
  #values = new Map<string, Sample>();

  constructor(name: string, help: string, labels: readonly string[] = []) {
    checkName(name, labels);
    this.name = name;
    this.help = help;
    this.labels = labels;
  }

  /** Adds `by` (default 1, never negative) to the sample with these label values. */
  inc(labels: LabelValues = [], by = 1): void {
    if (!(by >= 0)) throw new RangeError(`Cannot increment counter "${this.name}" by ${by}`);
    const key = keyOf(labels);
    const sample = this.#values.get(key);
    if (sample === undefined) this.#values.set(key, { labels: [...labels], value: by });
    else sample.value += by;
  }

  /** The current value of one sample (0 when never incremented). */
  value(labels: LabelValues = []): number {
    return this.#values.get(keyOf(labels))?.value ?? 0;
  }

  /** The sum over every sample (all label values). */
  total(): number {
    let sum = 0;
    for (const sample of this.#values.values()) sum += sample.value;
    return sum;
  }

  /** Every sample; an unlabelled counter has its one sample (0) before any increment. */
  samples(): Sample[] {
    if (this.#values.size === 0 && this.labels.length === 0) return [{ labels: [], value: 0 }];
    return [...this.#values.values()];
  }
}

/** A value read at collection time: one number, or one per set of label values. */
export interface Gauge {
  readonly name: string;
  readonly help: string;
  readonly labels?: readonly string[];
  /**
   * The unit OpenMetrics declares with `# UNIT` (e.g. "bytes", "seconds"); the name must end
   * with `_<unit>`.
   */
  readonly unit?: string;
  read(): number | Sample[];
}

/** A histogram-like summary of durations: count and sum, the cheapest form OpenMetrics allows. */
export class Timing {
  readonly name: string;
  readonly help: string;
  count = 0;
  sum = 0;
  /** The largest value seen (since start; in the status page's JSON, not in `/metrics`). */
  max = 0;

  constructor(name: string, help: string) {
    checkName(name);
    if (!name.endsWith("_seconds")) {
      throw new TypeError(`Cannot register timing "${name}": its name must end in _seconds`);
    }
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
  #onError: (name: string, error: unknown) => void;

  /** `onError` hears of a gauge whose `read` threw (its family is then rendered without samples). */
  constructor(options: { onError?: (name: string, error: unknown) => void } = {}) {
    this.#onError = options.onError ?? (() => {});
  }

  /** Where a gauge whose `read` throws is reported from now on (the metrics module logs it). */
  reportErrorsTo(onError: (name: string, error: unknown) => void): void {
    this.#onError = onError;
  }

  #checkFree(name: string, kind: "counter" | "gauge" | "timing"): void {
    const taken = (kind !== "counter" && this.#counters.has(name)) ||
      (kind !== "gauge" && this.#gauges.has(name)) ||
      (kind !== "timing" && this.#timings.has(name));
    if (taken) throw new TypeError(`Cannot register ${kind} "${name}": the name is taken`);
  }

  /** The counter of that name, created on first use (names must be unique across kinds). */
  counter(name: string, help: string, labels: readonly string[] = []): Counter {
    let counter = this.#counters.get(name);
    if (counter === undefined) {
      this.#checkFree(name, "counter");
      counter = new Counter(name, help, labels);
      this.#counters.set(name, counter);
    } else if (counter.labels.join() !== labels.join()) {
      throw new TypeError(`Cannot register counter "${name}": it exists with other labels`);
    }
    return counter;
  }

  /** The counter of that name if one was registered (for readers such as the status page). */
  findCounter(name: string): Counter | undefined {
    return this.#counters.get(name);
  }

  /** Adds (or replaces) a gauge read at collection time. */
  gauge(gauge: Gauge): void {
    this.#checkFree(gauge.name, "gauge");
    checkName(gauge.name, gauge.labels);
    if (gauge.unit !== undefined && !gauge.name.endsWith(`_${gauge.unit}`)) {
      throw new TypeError(
        `Cannot register gauge "${gauge.name}": the name must end in _${gauge.unit}`,
      );
    }
    this.#gauges.set(gauge.name, gauge);
  }

  /** Removes a gauge (a module that stops takes its gauges away). */
  removeGauge(name: string): void {
    this.#gauges.delete(name);
  }

  /** The timing of that name (seconds, so the name ends in `_seconds`), created on first use. */
  timing(name: string, help: string): Timing {
    let timing = this.#timings.get(name);
    if (timing === undefined) {
      this.#checkFree(name, "timing");
      timing = new Timing(name, help);
      this.#timings.set(name, timing);
    }
    return timing;
  }

  /** Every current value by name (counters with `_total`), for the status page's JSON. */
  snapshot(): Record<string, number | Record<string, number>> {
    const out: Record<string, number | Record<string, number>> = {};
    const put = (name: string, labels: readonly string[], samples: Sample[]) => {
      if (labels.length === 0) out[name] = samples[0]?.value ?? 0;
      else out[name] = Object.fromEntries(samples.map((s) => [s.labels.join(","), s.value]));
    };
    for (const counter of this.#counters.values()) {
      put(`${counter.name}_total`, counter.labels, counter.samples());
    }
    for (const gauge of this.#gauges.values()) {
      put(gauge.name, gauge.labels ?? [], this.#read(gauge));
    }
    for (const timing of this.#timings.values()) {
      out[`${timing.name}_count`] = timing.count;
      out[`${timing.name}_sum`] = timing.sum;
      out[`${timing.name}_max`] = timing.max;
    }
    return out;
  }

  /**
   * The text exposition: OpenMetrics (default), ending with `# EOF`, or the Prometheus text
   * format 0.0.4 for scrapers that ask for it.
   */
  render(format: ExpositionFormat = "openmetrics"): string {
    const open = format === "openmetrics";
    const lines: string[] = [];
    const help = (name: string, text: string) =>
      `# HELP ${name} ${open ? escapeLabel(text) : escapeHelp(text)}`;
    for (const counter of this.#counters.values()) {
      // 0.0.4 has no families: its TYPE line names the samples, `_total` included.
      const family = open ? counter.name : `${counter.name}_total`;
      lines.push(`# TYPE ${family} counter`, help(family, counter.help));
      for (const sample of counter.samples()) {
        lines.push(
          `${counter.name}_total${labelSet(counter.labels, sample.labels)} ${number(sample.value)}`,
        );
      }
    }
    for (const gauge of this.#gauges.values()) {
      lines.push(`# TYPE ${gauge.name} gauge`);
      if (gauge.unit && open) lines.push(`# UNIT ${gauge.name} ${gauge.unit}`);
      lines.push(help(gauge.name, gauge.help));
      for (const sample of this.#read(gauge)) {
        lines.push(
          `${gauge.name}${labelSet(gauge.labels ?? [], sample.labels)} ${number(sample.value)}`,
        );
      }
    }
    for (const timing of this.#timings.values()) {
      lines.push(`# TYPE ${timing.name} summary`);
      if (open) lines.push(`# UNIT ${timing.name} seconds`);
      lines.push(
        help(timing.name, timing.help),
        `${timing.name}_count ${timing.count}`,
        `${timing.name}_sum ${number(timing.sum)}`,
      );
    }
    if (open) lines.push("# EOF");
    return lines.join("\n") + "\n";
  }

  #read(gauge: Gauge): Sample[] {
    try {
      const value = gauge.read();
      const samples = typeof value === "number" ? [{ labels: [], value }] : value;
      const width = gauge.labels?.length ?? 0;
      return samples.filter((sample) => sample.labels.length === width);
    } catch (error) {
      this.#onError(gauge.name, error);
      return [];
    }
  }
}

/**
 * The format to answer an `Accept` header with: OpenMetrics unless the client prefers the
 * Prometheus text format (by q-value) or accepts only that. Prometheus itself asks for
 * `application/openmetrics-text;version=1.0.0,...,text/plain;version=0.0.4;q=0.5,*\/*;q=0.1`.
 */
export function negotiateFormat(accept: string | null): ExpositionFormat {
  if (accept === null || accept.trim() === "") return "openmetrics";
  let open = -1;
  let plain = -1;
  for (const range of accept.split(",")) {
    const [type, ...params] = range.split(";").map((part) => part.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith("q="));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!(q > 0)) continue;
    const version = params.find((p) => p.startsWith("version="))?.slice(8);
    if (type === "application/openmetrics-text") {
      if (version === undefined || version.startsWith("1.") || version.startsWith("0.0.1")) {
        open = Math.max(open, q);
      }
    } else if (type === "text/plain") {
      if (version === undefined || version === "0.0.4") plain = Math.max(plain, q);
    } else if (type === "*/*" || type === "application/*" || type === "text/*") {
      if (type !== "text/*") open = Math.max(open, q);
      if (type !== "application/*") plain = Math.max(plain, q);
    }
  }
  return plain > open ? "prometheus" : "openmetrics";
}

/** A number as both formats write it: `NaN`, `+Inf`, `-Inf`, or JavaScript's decimal. */
function number(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function labelSet(names: readonly string[], values: LabelValues): string {
  if (names.length === 0) return "";
  const pairs = names.map((name, i) => `${name}="${escapeLabel(values[i] ?? "")}"`);
  return `{${pairs.join(",")}}`;
}

/** OpenMetrics escaping, for label values and (in OpenMetrics) HELP: `\\`, `\"`, `\n`. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Prometheus 0.0.4 HELP escaping: only `\\` and `\n` (it rejects `\"` there). */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}
