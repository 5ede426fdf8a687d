import { strict as assert } from "node:assert";
import { hashSecret, PBKDF2_ITERATIONS, verifySecret } from "./secrets.ts";

Deno.test("hashSecret() returns a self-describing string without the secret", async () => {
  const stored = await hashSecret("cauldron");
  assert.ok(!stored.includes("cauldron"));
  const [scheme, iterations, salt, hash, ...rest] = stored.split("$");
  assert.equal(scheme, "pbkdf2-sha256");
  assert.equal(Number(iterations), PBKDF2_ITERATIONS);
  assert.equal(Uint8Array.fromBase64(salt).length, 16);
  assert.equal(Uint8Array.fromBase64(hash).length, 32);
  assert.deepEqual(rest, []);
});

Deno.test("verifySecret() accepts the right secret and rejects a wrong one", async () => {
  const stored = await hashSecret("cauldron");
  assert.equal(await verifySecret(stored, "cauldron"), true);
  assert.equal(await verifySecret(stored, "Cauldron"), false);
  assert.equal(await verifySecret(stored, ""), false);
  assert.equal(await verifySecret(stored, "cauldron "), false);
});

Deno.test("hashSecret() salts: two hashes of one secret differ", async () => {
  const a = await hashSecret("cauldron", { iterations: 1000 });
  const b = await hashSecret("cauldron", { iterations: 1000 });
  assert.notEqual(a, b);
  assert.equal(await verifySecret(a, "cauldron"), true);
  assert.equal(await verifySecret(b, "cauldron"), true);
});

Deno.test("hashSecret() handles the empty and non-ASCII secrets", async () => {
  for (const secret of ["", "Grüße, 魔女 🧙"]) {
    const stored = await hashSecret(secret, { iterations: 1000 });
    assert.equal(await verifySecret(stored, secret), true);
    assert.equal(await verifySecret(stored, secret + "x"), false);
  }
});

Deno.test("hashSecret() refuses a bad iteration count", async () => {
  await assert.rejects(
    () => hashSecret("x", { iterations: 0 }),
    /^RangeError: Cannot hash secret: iterations must be an integer/,
  );
});

Deno.test("verifySecret() returns false for malformed stored strings", async () => {
  const good = await hashSecret("cauldron", { iterations: 1000 });
  const [, , salt, hash] = good.split("$");
  const malformed = [
    "",
    "cauldron",
    "pbkdf2-sha256$1000$" + salt,
    `pbkdf2-sha1$1000$${salt}$${hash}`,
    `pbkdf2-sha256$0$${salt}$${hash}`,
    `pbkdf2-sha256$-5$${salt}$${hash}`,
    `pbkdf2-sha256$abc$${salt}$${hash}`,
    `pbkdf2-sha256$99999999999$${salt}$${hash}`,
    `pbkdf2-sha256$1000$!!!$${hash}`,
    `pbkdf2-sha256$1000$$${hash}`,
    `pbkdf2-sha256$1000$${salt}$AAAA`,
    `pbkdf2-sha256$1000$${salt}$${hash}$extra`,
  ];
  for (const stored of malformed) {
    assert.equal(await verifySecret(stored, "cauldron"), false, stored);
  }
});
