import { strict as assert } from "node:assert";
import { JidError, parseJid, tryParseJid } from "./jid.ts";

Deno.test("parseJid() splits and prepares the three parts", () => {
  const jid = parseJid("Romeo@Montague.LIT/Orchard Balcony");
  assert.equal(jid.local, "romeo");
  assert.equal(jid.domain, "montague.lit");
  assert.equal(jid.resource, "Orchard Balcony");
  assert.equal(jid.bare, "romeo@montague.lit");
  assert.equal(jid.full, "romeo@montague.lit/Orchard Balcony");
});

Deno.test("parseJid() keeps slashes and @ inside the resource", () => {
  const jid = parseJid("room@conference.localhost/a/b@c");
  assert.equal(jid.resource, "a/b@c");
  assert.equal(jid.bare, "room@conference.localhost");
});

Deno.test("parseJid() accepts a domain alone", () => {
  const jid = parseJid("conference.localhost");
  assert.equal(jid.local, "");
  assert.equal(jid.bare, "conference.localhost");
});

Deno.test("parseJid() refuses malformed JIDs with a reason", () => {
  for (const bad of ["@localhost", "user@", "user@localhost/", "a b@localhost", "us<er@x", ""]) {
    assert.throws(() => parseJid(bad), JidError, bad);
    assert.equal(tryParseJid(bad), null);
  }
});
