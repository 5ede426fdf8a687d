import { strict as assert } from "node:assert";
import { NickError, prepNick } from "./_nick.ts";

Deno.test("prepNick() keeps ordinary nicknames, NFC-normalized", () => {
  assert.equal(prepNick("thirdwitch"), "thirdwitch");
  assert.equal(prepNick("Third Witch"), "Third Witch");
  assert.equal(prepNick("Cafe\u0301"), "Caf\u00e9");
  assert.equal(prepNick("魔女"), "魔女");
});

Deno.test("prepNick() refuses what PRECIS refuses, naming the character", () => {
  for (
    const bad of ["a\u200bb", "a\u0007", "\uE000x", " lead", "trail ", "a\u00a0b", "\uFDD0", ""]
  ) {
    assert.throws(() => prepNick(bad), NickError, JSON.stringify(bad));
  }
  assert.throws(() => prepNick("a\u200bb"), /U\+200B/);
});
