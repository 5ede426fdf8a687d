import { strict as assert } from "node:assert";
import { Metrics } from "../metrics/metrics.ts";
import { RateHistory } from "./history.ts";

Deno.test("RateHistory turns the counters' growth into stanzas per second, keeping the last points", () => {
  const metrics = new Metrics();
  const stanzasIn = metrics.counter("verona_c2s_stanzas_in", "in", ["kind"]);
  const stanzasOut = metrics.counter("verona_c2s_stanzas_out", "out", ["kind"]);
  let now = 10_000;
  const history = new RateHistory(metrics, { length: 3, now: () => now });
  history.sample(); // the first sample only sets the baseline
  assert.deepEqual(history.points(), []);
  stanzasIn.inc(["message"], 4);
  stanzasIn.inc(["iq"], 2);
  stanzasOut.inc(["message"], 3);
  now += 2000;
  history.sample();
  assert.deepEqual(history.points(), [{ t: 12_000, in: 3, out: 1.5 }]);
  for (let i = 0; i < 4; i++) {
    now += 1000;
    stanzasIn.inc(["iq"], i);
    history.sample();
  }
  assert.deepEqual(history.points().map((p) => p.in), [1, 2, 3]);
  assert.deepEqual(history.points().map((p) => p.t), [14_000, 15_000, 16_000]);
});

Deno.test("RateHistory reads 0 when the counters do not exist (yet)", () => {
  let now = 0;
  const history = new RateHistory(new Metrics(), { now: () => now });
  history.sample();
  now = 1000;
  history.sample();
  assert.deepEqual(history.points(), [{ t: 1000, in: 0, out: 0 }]);
});
