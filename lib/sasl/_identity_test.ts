// Tests for _identity.ts: SASLprep (RFC 4013) as a query string.
import { strict as assert } from "node:assert";
import { saslprep } from "@mongodb-js/saslprep";
import { prepQuery } from "./_identity.ts";

Deno.test("prepQuery gives printable ASCII back as SASLprep itself does, without its tables", () => {
  // Every printable ASCII character alone, in pairs, and a few usual names and passwords.
  const samples = [""];
  for (let a = 0x20; a <= 0x7e; a++) {
    samples.push(String.fromCharCode(a));
    for (let b = 0x20; b <= 0x7e; b += 7) samples.push(String.fromCharCode(a, b));
  }
  samples.push("juliet", "bench-password", "Romeo Montague", "p@ss w0rd!~", " leading");
  for (const text of samples) {
    assert.equal(prepQuery(text), saslprep(text, { allowUnassigned: true }), JSON.stringify(text));
  }
});

Deno.test("prepQuery still maps, normalizes and refuses what is not printable ASCII", () => {
  assert.equal(prepQuery("I\u00ADX"), "IX"); // soft hyphen maps to nothing (RFC 4013 §2.2)
  assert.equal(prepQuery("a\u00A0b"), "a b"); // non-ASCII space maps to space (§2.1)
  assert.equal(prepQuery("\u2168"), "IX"); // NFKC (§2.2)
  assert.equal(prepQuery("\u00AD"), ""); // everything mapped to nothing
  assert.equal(prepQuery("a\u0007b"), null); // ASCII control character: prohibited (§2.3)
  assert.equal(prepQuery("a\u007Fb"), null); // DELETE: prohibited too
  assert.equal(prepQuery("\u0627\u0031"), null); // RandAL first but not last (§6)
});
