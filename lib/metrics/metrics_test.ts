import { strict as assert } from "node:assert";
import { parseOpenMetrics, sampleValue } from "../../tests/_openmetrics.ts";
import { CONTENT_TYPES, Counter, Metrics, negotiateFormat } from "./metrics.ts";

Deno.test("Counter.inc() adds by label values, and value() and total() read them back", () => {
  const counter = new Counter("stanzas_in", "Stanzas", ["kind"]);
  counter.inc(["message"]);
  counter.inc(["message"], 2);
  counter.inc(["iq"]);
  assert.equal(counter.value(["message"]), 3);
  assert.equal(counter.value(["iq"]), 1);
  assert.equal(counter.value(["presence"]), 0);
  assert.equal(counter.total(), 4);
  assert.throws(() => counter.inc(["iq"], -1), /Cannot increment counter "stanzas_in" by -1/);
  assert.throws(() => counter.inc(["iq"], NaN), RangeError);
});

Deno.test("Counter keys several labels apart (no value joins into another)", () => {
  const counter = new Counter("pairs", "Pairs", ["a", "b"]);
  counter.inc(["x,y", "z"]);
  counter.inc(["x", "y,z"]);
  assert.equal(counter.value(["x,y", "z"]), 1);
  assert.equal(counter.value(["x", "y,z"]), 1);
});

Deno.test("render() writes OpenMetrics: TYPE, UNIT, HELP, _total on counters, # EOF", () => {
  const metrics = new Metrics();
  metrics.counter("verona_stanzas", "Stanzas received", ["kind"]).inc(["message"], 5);
  metrics.counter("verona_logins", "Logins");
  metrics.gauge({ name: "verona_sessions", help: "Sessions", read: () => 3 });
  metrics.gauge({
    name: "verona_queue_bytes",
    help: "Queued",
    unit: "bytes",
    labels: ["kind"],
    read: () => [{ labels: ["a"], value: 1 }, { labels: ["b"], value: 2 }],
  });
  metrics.timing("verona_commit_seconds", "Commits").observe(0.25);
  assert.equal(
    metrics.render(),
    [
      "# TYPE verona_stanzas counter",
      "# HELP verona_stanzas Stanzas received",
      'verona_stanzas_total{kind="message"} 5',
      "# TYPE verona_logins counter",
      "# HELP verona_logins Logins",
      "verona_logins_total 0",
      "# TYPE verona_sessions gauge",
      "# HELP verona_sessions Sessions",
      "verona_sessions 3",
      "# TYPE verona_queue_bytes gauge",
      "# UNIT verona_queue_bytes bytes",
      "# HELP verona_queue_bytes Queued",
      'verona_queue_bytes{kind="a"} 1',
      'verona_queue_bytes{kind="b"} 2',
      "# TYPE verona_commit_seconds summary",
      "# UNIT verona_commit_seconds seconds",
      "# HELP verona_commit_seconds Commits",
      "verona_commit_seconds_count 1",
      "verona_commit_seconds_sum 0.25",
      "# EOF",
      "",
    ].join("\n"),
  );
  const parsed = parseOpenMetrics(metrics.render());
  assert.equal(parsed.get("verona_queue_bytes")?.unit, "bytes");
  assert.equal(sampleValue(parsed, "verona_stanzas_total", { kind: "message" }), 5);
});

Deno.test('render() escapes label values and HELP text (\\\\, \\", newline) and parses back', () => {
  const metrics = new Metrics();
  const odd = 'back\\slash "quoted"\nnew line';
  metrics.counter("verona_odd", `Help with ${odd}`, ["value"]).inc([odd]);
  const text = metrics.render();
  assert.ok(text.includes('verona_odd_total{value="back\\\\slash \\"quoted\\"\\nnew line"} 1'));
  assert.ok(text.includes('# HELP verona_odd Help with back\\\\slash \\"quoted\\"\\nnew line\n'));
  const parsed = parseOpenMetrics(text);
  assert.equal(parsed.get("verona_odd")?.help, `Help with ${odd}`);
  assert.deepEqual(parsed.get("verona_odd")?.samples[0].labels, { value: odd });
});

Deno.test("render() writes NaN and infinities as OpenMetrics spells them", () => {
  const metrics = new Metrics();
  metrics.gauge({
    name: "verona_odd_values",
    help: "Odd",
    labels: ["v"],
    read: () => [
      { labels: ["nan"], value: NaN },
      { labels: ["inf"], value: Infinity },
      { labels: ["-inf"], value: -Infinity },
    ],
  });
  const text = metrics.render();
  assert.match(text, /\{v="nan"\} NaN\n.*\{v="inf"\} \+Inf\n.*\{v="-inf"\} -Inf\n/s);
  parseOpenMetrics(text);
});

Deno.test("render('prometheus') writes text format 0.0.4: counters TYPE'd with _total, no UNIT or EOF", () => {
  const metrics = new Metrics();
  metrics.counter("verona_stanzas", 'Stanzas "in"', ["kind"]).inc(["iq"]);
  metrics.gauge({ name: "verona_rss_bytes", help: "RSS", unit: "bytes", read: () => 7 });
  assert.equal(
    metrics.render("prometheus"),
    [
      "# TYPE verona_stanzas_total counter",
      '# HELP verona_stanzas_total Stanzas "in"',
      'verona_stanzas_total{kind="iq"} 1',
      "# TYPE verona_rss_bytes gauge",
      "# HELP verona_rss_bytes RSS",
      "verona_rss_bytes 7",
      "",
    ].join("\n"),
  );
});

Deno.test("Metrics refuses bad names, a unit the name lacks, and one name for two kinds", () => {
  const metrics = new Metrics();
  assert.throws(() => metrics.counter("bad-name", "x"), /Cannot register metric "bad-name"/);
  assert.throws(() => metrics.counter("logins_total", "x"), /reserved/);
  assert.throws(() => metrics.counter("ok", "x", ["bad label"]), /bad label name/);
  assert.throws(
    () => metrics.gauge({ name: "verona_rss", help: "x", unit: "bytes", read: () => 0 }),
    /must end in _bytes/,
  );
  assert.throws(() => metrics.timing("verona_commit", "x"), /must end in _seconds/);
  metrics.counter("verona_shared", "x");
  assert.throws(
    () => metrics.gauge({ name: "verona_shared", help: "x", read: () => 0 }),
    /the name is taken/,
  );
  assert.throws(() => metrics.counter("verona_shared", "x", ["kind"]), /other labels/);
  assert.equal(metrics.counter("verona_shared", "y"), metrics.counter("verona_shared", "z"));
});

Deno.test("a gauge whose read() throws is reported and rendered without samples", () => {
  const errors: string[] = [];
  const metrics = new Metrics({ onError: (name) => errors.push(name) });
  metrics.gauge({
    name: "verona_broken",
    help: "Broken",
    read: () => {
      throw new Error("gone");
    },
  });
  metrics.gauge({ name: "verona_fine", help: "Fine", read: () => 1 });
  const parsed = parseOpenMetrics(metrics.render());
  assert.deepEqual(parsed.get("verona_broken")?.samples, []);
  assert.equal(sampleValue(parsed, "verona_fine"), 1);
  assert.deepEqual(errors, ["verona_broken"]);
});

Deno.test("snapshot() gives every value by name, labelled ones by their joined labels", () => {
  const metrics = new Metrics();
  const stanzas = metrics.counter("verona_stanzas", "x", ["kind"]);
  stanzas.inc(["message"], 2);
  metrics.counter("verona_logins", "x");
  metrics.gauge({ name: "verona_sessions", help: "x", read: () => 4 });
  const timing = metrics.timing("verona_commit_seconds", "x");
  timing.observe(0.5);
  timing.observe(0.25);
  assert.deepEqual(metrics.snapshot(), {
    verona_stanzas_total: { message: 2 },
    verona_logins_total: 0,
    verona_sessions: 4,
    verona_commit_seconds_count: 2,
    verona_commit_seconds_sum: 0.75,
    verona_commit_seconds_max: 0.5,
  });
});

Deno.test("negotiateFormat() answers Prometheus's Accept with OpenMetrics, and text/plain alone with 0.0.4", () => {
  const prometheus =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
  assert.equal(negotiateFormat(prometheus), "openmetrics");
  assert.equal(negotiateFormat(null), "openmetrics");
  assert.equal(negotiateFormat("*/*"), "openmetrics");
  assert.equal(negotiateFormat("text/plain"), "prometheus");
  assert.equal(negotiateFormat("text/plain;version=0.0.4;q=0.9,*/*;q=0.1"), "prometheus");
  assert.equal(
    negotiateFormat("application/openmetrics-text;q=0.2,text/plain;version=0.0.4;q=0.8"),
    "prometheus",
  );
  assert.equal(negotiateFormat("text/plain;q=0, application/openmetrics-text"), "openmetrics");
  assert.equal(
    CONTENT_TYPES.openmetrics,
    "application/openmetrics-text; version=1.0.0; charset=utf-8",
  );
  assert.equal(CONTENT_TYPES.prometheus, "text/plain; version=0.0.4; charset=utf-8");
});
