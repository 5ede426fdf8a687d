import { strict as assert } from "node:assert";
import { RegistrationThrottle } from "./register.ts";

Deno.test("RegistrationThrottle holds a window per address and gives back a refused one", () => {
  let now = 1_000_000;
  const throttle = new RegistrationThrottle(300_000, () => now);
  assert.equal(throttle.waitMs("192.0.2.1"), 0);
  throttle.hold("192.0.2.1");
  assert.equal(throttle.waitMs("192.0.2.1"), 300_000);
  assert.equal(throttle.waitMs("192.0.2.2"), 0, "other addresses are not affected");
  now += 299_000;
  assert.equal(throttle.waitMs("192.0.2.1"), 1_000);
  now += 1_000;
  assert.equal(throttle.waitMs("192.0.2.1"), 0);

  throttle.hold("192.0.2.2");
  throttle.release("192.0.2.2");
  assert.equal(throttle.waitMs("192.0.2.2"), 0, "a refused registration does not count");
});

Deno.test("RegistrationThrottle with a window of 0 never makes anyone wait", () => {
  const throttle = new RegistrationThrottle(0);
  throttle.hold("192.0.2.1");
  assert.equal(throttle.waitMs("192.0.2.1"), 0);
});
