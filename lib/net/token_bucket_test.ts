import { strict as assert } from "node:assert";
import { KeyedBuckets, TokenBucket } from "./token_bucket.ts";

Deno.test("a token bucket lets a burst through, then charges time for the debt", () => {
  let now = 0;
  const bucket = new TokenBucket({ perSecond: 1000, burst: 2000 }, () => now);
  assert.equal(bucket.take(1500), 0);
  assert.equal(bucket.take(1000), 500); // 500 tokens short at 1000/s
  now += 500;
  assert.equal(bucket.take(0), 0);
  now += 10_000;
  assert.ok(bucket.full, "refills up to the burst, no further");
  assert.equal(bucket.take(2000), 0);
  assert.equal(bucket.take(1), 1);
});

Deno.test("tryTake takes nothing when short; setRate starts again full", () => {
  let now = 0;
  const bucket = new TokenBucket({ perSecond: 1, burst: 2 }, () => now);
  assert.ok(bucket.tryTake());
  assert.ok(bucket.tryTake());
  assert.ok(!bucket.tryTake());
  now += 1000;
  assert.ok(bucket.tryTake());
  bucket.setRate({ perSecond: 100, burst: 1000 });
  assert.ok(bucket.tryTake(1000));
  assert.ok(!bucket.tryTake(10));
  now += 100;
  assert.ok(bucket.tryTake(10));
});

Deno.test("keyed buckets limit each key apart and forget keys past the bound", () => {
  const buckets = new KeyedBuckets({ perSecond: 0.001, burst: 2 }, 3);
  assert.ok(buckets.tryTake("a"));
  assert.ok(buckets.tryTake("a"));
  assert.ok(!buckets.tryTake("a"));
  assert.ok(!buckets.has("a"));
  assert.ok(buckets.has("never seen"));
  assert.ok(buckets.tryTake("b"));
  assert.ok(buckets.tryTake("c"));
  assert.ok(buckets.tryTake("d")); // "a" (oldest) dropped to make room
  assert.equal(buckets.size, 3);
});
