// Fuzzes StreamParser with mutated client streams split at random boundaries: no exception
// escapes, each input ends in stanzas and a live parser or in exactly one error, the same
// whatever the chunking, in bounded time and memory.
import { strict as assert } from "node:assert";
import { clientStreams, mutate, Prng, randomChunks, runParser } from "./_fuzz.ts";

Deno.test("StreamParser survives 1500 mutated streams at random chunk boundaries", () => {
  const rng = new Prng(20261202);
  const corpus = clientStreams().map((s) => new TextEncoder().encode(s));
  const heapBefore = Deno.memoryUsage().heapUsed;
  let slowest = 0;
  const conditions = new Map<string, number>();
  for (let round = 0; round < 1500; round++) {
    let input: Uint8Array = rng.pick(corpus);
    for (let k = 1 + rng.int(3); k > 0; k--) {
      input = mutate(input, rng, { other: rng.pick(corpus), maxRepeat: 1 << 20 }).bytes;
    }
    const started = performance.now();
    const whole = runParser([input]);
    const split = runParser(randomChunks(input, rng));
    slowest = Math.max(slowest, (performance.now() - started) / 2);
    const label = `round ${round}: ${new TextDecoder().decode(input.subarray(0, 300))}`;
    assert.ok(whole.errors.length <= 1, label);
    assert.equal(whole.late, 0, label);
    assert.deepEqual(split, whole, label);
    for (const c of whole.errors) conditions.set(c, (conditions.get(c) ?? 0) + 1);
  }
  assert.ok(slowest < 250, `slowest input took ${slowest.toFixed(1)} ms`);
  const grown = Deno.memoryUsage().heapUsed - heapBefore;
  assert.ok(grown < 256 * 1024 * 1024, `heap grew by ${grown} bytes`);
  // Each family of error is reached.
  for (const c of ["not-well-formed", "policy-violation", "restricted-xml", "bad-format"]) {
    assert.ok(conditions.has(c), `no input ended in ${c}: ${[...conditions.keys()]}`);
  }
});
