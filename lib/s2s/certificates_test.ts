import { strict as assert } from "node:assert";
import { nameMatches } from "./certificates.ts";

Deno.test("certificate names match a domain exactly, or by a wildcard for one leftmost label (RFC 6125 §6.4.3)", () => {
  assert.ok(nameMatches("example.org", "example.org"));
  assert.ok(nameMatches("Example.ORG", "example.org"));
  assert.ok(nameMatches("conference.example.org", "*.example.org"));
  assert.ok(!nameMatches("example.org", "*.example.org"));
  assert.ok(!nameMatches("a.b.example.org", "*.example.org"));
  assert.ok(!nameMatches("example.org.evil", "example.org"));
  assert.ok(!nameMatches("evilexample.org", "*example.org"));
  assert.ok(!nameMatches("example.net", "example.org"));
});
