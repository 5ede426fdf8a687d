// Tests for client.ts against RFC 5802 §5 and RFC 7677 §3 example exchanges.
import { strict as assert } from "node:assert";
import { plainResponse, ScramClient } from "./client.ts";
import { text } from "./_testing.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("ScramClient reproduces the RFC 5802 §5 SCRAM-SHA-1 exchange", async () => {
  const client = new ScramClient("SHA-1", "user", "pencil", "fyko+d2lbbFgONRv9qkxdawL");
  assert.equal(text(client.first()), "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
  const final = await client.final(
    enc("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"),
  );
  assert.equal(
    text(final),
    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
  );
  assert.equal(await client.verify(enc("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")), true);
});

Deno.test("ScramClient reproduces the RFC 7677 §3 SCRAM-SHA-256 exchange", async () => {
  const client = new ScramClient("SHA-256", "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
  assert.equal(text(client.first()), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  const final = await client.final(
    enc(
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    ),
  );
  assert.equal(
    text(final),
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," +
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  );
  assert.equal(
    await client.verify(enc("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")),
    true,
  );
});

Deno.test("ScramClient.verify() is false for a wrong signature or a server error", async () => {
  const client = new ScramClient("SHA-1", "user", "pencil", "fyko+d2lbbFgONRv9qkxdawL");
  await client.final(
    enc("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"),
  );
  assert.equal(await client.verify(enc("v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=")), false);
  assert.equal(await client.verify(enc("e=invalid-proof")), false);
  assert.equal(await client.verify(enc("v=not base64")), false);
  assert.equal(await client.verify(enc("")), false);
});

Deno.test("ScramClient.verify() before final() rejects", async () => {
  const client = new ScramClient("SHA-1", "user", "pencil");
  await assert.rejects(client.verify(enc("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")), /final\(\)/);
});

Deno.test("ScramClient.final() rejects a server nonce that does not extend the client's", async () => {
  const client = new ScramClient("SHA-1", "user", "pencil", "abc");
  await assert.rejects(client.final(enc("r=xyz123,s=QSXCR+Q6sek8bf92,i=4096")), /nonce/);
  await assert.rejects(client.final(enc("r=abc,s=QSXCR+Q6sek8bf92,i=4096")), /nonce/);
  await assert.rejects(client.final(enc("r=abc1,s=QSXCR+Q6sek8bf92,i=0")), /iteration/);
  await assert.rejects(client.final(enc("r=abc1,s=???,i=4096")), /salt/);
  await assert.rejects(client.final(enc("m=x,r=abc1,s=QSXCR+Q6sek8bf92,i=4096")), /malformed/);
});

Deno.test("ScramClient escapes and prepares the username", () => {
  const client = new ScramClient("SHA-256", "a,b=c\u00AD", "p", "n0nce");
  assert.equal(text(client.first()), "n,,n=a=2Cb=3Dc,r=n0nce");
  assert.throws(() => new ScramClient("SHA-256", "", "p"), TypeError);
  assert.throws(() => new ScramClient("SHA-256", "u\u0007", "p"), TypeError);
  assert.throws(() => new ScramClient("SHA-256", "u", "p", "has,comma"), TypeError);
});

Deno.test("plainResponse() builds NUL authcid NUL password", () => {
  assert.deepEqual(plainResponse("juliet", "r0m30"), enc("\0juliet\0r0m30"));
  assert.deepEqual(plainResponse("jü", "pä"), enc("\0jü\0pä"));
});
