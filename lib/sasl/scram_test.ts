// Tests for scram.ts and _scram_util.ts. RFC 5802 §2.2, §3, §5.1; RFC 4013.
import { strict as assert } from "node:assert";
import { DEFAULT_SCRAM_ITERATIONS, deriveScramCredentials } from "./scram.ts";
import {
  decodeBase64,
  decodeSaslname,
  encodeBase64,
  encodeSaslname,
  parseAttributes,
  timingSafeEqual,
} from "./_scram_util.ts";

const RFC5802_SALT = decodeBase64("QSXCR+Q6sek8bf92")!;

Deno.test("deriveScramCredentials() defaults to a 16-byte random salt and 4096 iterations", async () => {
  const a = await deriveScramCredentials("pencil", { hash: "SHA-256" });
  const b = await deriveScramCredentials("pencil", { hash: "SHA-256" });
  assert.equal(DEFAULT_SCRAM_ITERATIONS, 4096);
  assert.equal(a.hash, "SHA-256");
  assert.equal(a.iterations, 4096);
  assert.equal(a.salt.length, 16);
  assert.equal(a.storedKey.length, 32);
  assert.equal(a.serverKey.length, 32);
  assert.notDeepEqual(a.salt, b.salt);
  assert.notDeepEqual(a.storedKey, b.storedKey);
});

Deno.test("deriveScramCredentials() is deterministic for a given salt and iteration count", async () => {
  const options = { hash: "SHA-1", salt: RFC5802_SALT, iterations: 4096 } as const;
  const a = await deriveScramCredentials("pencil", options);
  const b = await deriveScramCredentials("pencil", options);
  assert.equal(a.storedKey.length, 20);
  assert.deepEqual(a.storedKey, b.storedKey);
  assert.deepEqual(a.serverKey, b.serverKey);
  assert.deepEqual(a.salt, RFC5802_SALT);
  const other = await deriveScramCredentials("pencil", { ...options, iterations: 4097 });
  assert.notDeepEqual(other.storedKey, a.storedKey);
});

Deno.test("deriveScramCredentials() applies SASLprep: I\\u00ADX equals IX", async () => {
  const options = { hash: "SHA-256", salt: new Uint8Array(16), iterations: 1 } as const;
  const soft = await deriveScramCredentials("I\u00ADX", options);
  const plain = await deriveScramCredentials("IX", options);
  assert.deepEqual(soft.storedKey, plain.storedKey);
  // Non-ASCII space maps to a space (RFC 4013 §2.1).
  const nbsp = await deriveScramCredentials("a\u00A0b", options);
  const space = await deriveScramCredentials("a b", options);
  assert.deepEqual(nbsp.storedKey, space.storedKey);
});

Deno.test("deriveScramCredentials() rejects prohibited and empty passwords", async () => {
  await assert.rejects(
    deriveScramCredentials("bad\u0007", { hash: "SHA-1" }),
    /password contains a character SASLprep prohibits/,
  );
  await assert.rejects(deriveScramCredentials("\u00AD", { hash: "SHA-1" }), /empty/);
  await assert.rejects(deriveScramCredentials("", { hash: "SHA-1" }), /empty/);
});

Deno.test("deriveScramCredentials() accepts code points unassigned in Unicode 3.2", async () => {
  // RFC 5802 §2.2 prepares passwords as query strings; emoji postdate SASLprep's tables.
  const credentials = await deriveScramCredentials("r0m30 \u2728", { hash: "SHA-1" });
  assert.equal(credentials.storedKey.length, 20);
});

Deno.test("deriveScramCredentials() rejects bad iteration counts and empty salts", async () => {
  await assert.rejects(deriveScramCredentials("p", { hash: "SHA-1", iterations: 0 }), RangeError);
  await assert.rejects(deriveScramCredentials("p", { hash: "SHA-1", iterations: 1.5 }), RangeError);
  await assert.rejects(
    deriveScramCredentials("p", { hash: "SHA-1", salt: new Uint8Array() }),
    RangeError,
  );
});

Deno.test("encodeBase64() and decodeBase64() round-trip and reject sloppy input", () => {
  for (let length = 0; length < 40; length++) {
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    assert.deepEqual(decodeBase64(encodeBase64(bytes)), bytes);
  }
  assert.equal(encodeBase64(new TextEncoder().encode("n,,")), "biws");
  assert.equal(encodeBase64(new TextEncoder().encode("y,,")), "eSws");
  assert.equal(decodeBase64("biw"), null);
  assert.equal(decodeBase64("bi ws"), null);
  assert.equal(decodeBase64("b=ws"), null);
  assert.equal(decodeBase64("biws="), null);
});

Deno.test("encodeSaslname() and decodeSaslname() escape , and =", () => {
  assert.equal(encodeSaslname("a,b=c"), "a=2Cb=3Dc");
  assert.equal(decodeSaslname("a=2Cb=3Dc"), "a,b=c");
  assert.equal(decodeSaslname("=3D2C"), "=2C");
  assert.equal(decodeSaslname("a=b"), null);
  assert.equal(decodeSaslname("a="), null);
  assert.equal(decodeSaslname("a=2c"), null);
});

Deno.test("parseAttributes() keeps order and values containing =", () => {
  assert.deepEqual(parseAttributes("r=abc,s=QSXCR+Q6sek8bf92,i=4096"), [
    ["r", "abc"],
    ["s", "QSXCR+Q6sek8bf92"],
    ["i", "4096"],
  ]);
  assert.deepEqual(parseAttributes("s=W22ZaJ0SNY7soEsUEjb6gQ=="), [[
    "s",
    "W22ZaJ0SNY7soEsUEjb6gQ==",
  ]]);
  assert.deepEqual(parseAttributes("r="), [["r", ""]]);
  assert.equal(parseAttributes(""), null);
  assert.equal(parseAttributes("r=a,,s=b"), null);
  assert.equal(parseAttributes("rr=a"), null);
  assert.equal(parseAttributes("1=a"), null);
});

Deno.test("timingSafeEqual() compares content and length", () => {
  assert.equal(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])), true);
  assert.equal(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])), false);
  assert.equal(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0])), false);
  assert.equal(timingSafeEqual(new Uint8Array(), new Uint8Array()), true);
});
