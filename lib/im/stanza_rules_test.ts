import { strict as assert } from "node:assert";
import { NS } from "../stanza/ns.ts";
import { el } from "../xml/element.ts";
import { loadXml } from "../xml/stored.ts";
import { isEligible } from "./carbons.ts";
import { isStorable } from "./offline.ts";

const body = () => el("body", {}, "hi");

Deno.test("isStorable() keeps normal and chat messages with content only (XEP-0160)", () => {
  assert.equal(isStorable(el("message", { type: "chat" }, body())), true);
  assert.equal(isStorable(el("message", {}, body())), true);
  assert.equal(isStorable(el("message", { type: "headline" }, body())), false);
  assert.equal(isStorable(el("message", { type: "groupchat" }, body())), false);
  assert.equal(isStorable(el("message", { type: "error" }, body())), false);
  const composing = el("composing", { xmlns: "http://jabber.org/protocol/chatstates" });
  assert.equal(isStorable(el("message", { type: "chat" }, composing)), false);
  assert.equal(
    isStorable(el("message", { type: "chat" }, el("x", { xmlns: "jabber:x:oob" }))),
    true,
  );
  assert.equal(
    isStorable(el("message", { type: "chat" }, body(), el("no-store", { xmlns: NS.HINTS }))),
    false,
  );
  assert.equal(isStorable(el("message", { type: "chat" }, el("store", { xmlns: NS.HINTS }))), true);
});

Deno.test("isEligible() copies chat and normal-with-body, not private, no-copy or MUC (XEP-0280 §6)", () => {
  assert.equal(isEligible(el("message", { type: "chat" })), true);
  assert.equal(isEligible(el("message", {}, body())), true);
  assert.equal(isEligible(el("message", {})), false);
  assert.equal(isEligible(el("message", { type: "groupchat" }, body())), false);
  assert.equal(isEligible(el("message", { type: "headline" }, body())), false);
  assert.equal(
    isEligible(el("message", { type: "chat" }, el("private", { xmlns: NS.CARBONS }))),
    false,
  );
  assert.equal(
    isEligible(el("message", { type: "chat" }, el("no-copy", { xmlns: NS.HINTS }))),
    false,
  );
  assert.equal(isEligible(el("message", { type: "chat" }, el("x", { xmlns: NS.MUC_USER }))), false);
});

Deno.test("loadXml() reads back what was stored, text and extensions included", () => {
  const stanza = el(
    "presence",
    { from: "romeo@localhost", type: "subscribe" },
    el("status", {}, "<&> \u2665"),
    el("nick", { xmlns: "http://jabber.org/protocol/nick" }, "Romeo"),
  );
  const back = loadXml(stanza.toString());
  assert.equal(back.toString(NS.CLIENT), stanza.toString());
  assert.equal(back.attrs.xmlns, NS.CLIENT);
  assert.equal(back.getChildText("status"), "<&> \u2665");
});
