// A short fuzz run, as part of the suite: mutated spec stanzas and client streams fed to the
// parser, then to a live server before and after authentication. `deno task fuzz` runs longer.
import { strict as assert } from "node:assert";
import { mutate, Prng, randomChunks, runParser } from "../lib/xml/_fuzz.ts";
import { startTestServer } from "./_harness.ts";
import { loadCorpus } from "./fuzz/corpus.ts";
import { FUZZ_RATES, runLiveFuzz } from "./fuzz/live.ts";

const encoder = new TextEncoder();

Deno.test("the spec corpus, mutated, gets the same answer from the parser whatever the chunking", async () => {
  const corpus = await loadCorpus();
  const header = encoder.encode(corpus.streams[0].slice(0, corpus.streams[0].indexOf(">", 30) + 1));
  const stanzas = corpus.stanzas.map((s) => encoder.encode(s));
  const rng = new Prng(6120);
  for (let round = 0; round < 600; round++) {
    let input: Uint8Array = rng.pick(stanzas);
    for (let k = 1 + rng.int(3); k > 0; k--) {
      input = mutate(input, rng, { other: rng.pick(stanzas), maxRepeat: 300_000 }).bytes;
    }
    const whole = runParser([header, input]);
    const split = runParser([header, ...randomChunks(input, rng)]);
    assert.ok(whole.errors.length <= 1);
    assert.deepEqual(
      split,
      whole,
      `round ${round}: ${new TextDecoder().decode(input.subarray(0, 300))}`,
    );
  }
});

Deno.test({
  name: "a live server answers every mutated input, before and after authentication",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using test = await startTestServer({
      accounts: [["romeo", "r0me0-fuzz"], ["nurse", "nurse-fuzz"]],
      configure: (config) => Object.assign(config.limits, FUZZ_RATES),
    });
    const report = await runLiveFuzz({
      port: test.port,
      corpus: await loadCorpus(),
      seed: 1,
      durationMs: 3500,
      workers: 4,
      account: ["romeo", "r0me0-fuzz"],
      bystander: ["nurse", "nurse-fuzz"],
      timeoutMs: 3000,
      maxRepeat: 300_000,
      rss: () => Deno.memoryUsage().rss,
      rates: FUZZ_RATES,
    });
    const summary = JSON.stringify(report, null, 1);
    assert.ok(report.inputs >= 20, summary);
    assert.ok(report.preAuth > 0 && report.postAuth > 0, summary);
    assert.equal(report.waits, 0, summary);
    assert.equal(report.drops, 0, summary);
    assert.equal(report.setupFailures, 0, summary);
    assert.equal(report.bystanderFailures, 0, summary);
    assert.ok(report.bystanderPings > 10, summary);
    assert.ok(report.pingP99Ms < 500, summary);
    assert.ok(report.maxRssBytes < 1024 * 1024 * 1024, summary);
    assert.ok(!test.log.some((line) => line.includes("error handling")), summary);
  },
});
