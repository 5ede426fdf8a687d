import { strict as assert } from "node:assert";
import { NS } from "../stanza/ns.ts";
import { el, type Element } from "../xml/element.ts";
import { ClientStateBuffer, isImportant } from "./client_state.ts";

const ROMEO = "romeo@localhost";

function presence(from: string, status: string): Element {
  return el("presence", { from, to: `${ROMEO}/orchard` }, el("status", {}, status));
}

function texts(items: (Element | string)[]): string[] {
  return items.map((item) =>
    typeof item === "string" ? item : item.getChildText("status") ?? item.getChildText("body") ??
      item.name
  );
}

Deno.test("isImportant() follows mod_csi_simple: presence updates and chat states can wait", () => {
  assert.equal(isImportant(presence("juliet@localhost/balcony", "hi")), false);
  assert.equal(isImportant(el("presence", { type: "unavailable" })), false);
  assert.equal(isImportant(el("presence", { type: "subscribe" })), true);
  assert.equal(isImportant(el("message", {}, el("body", {}, "hi"))), true);
  assert.equal(
    isImportant(
      el("message", {}, el("composing", { xmlns: "http://jabber.org/protocol/chatstates" })),
    ),
    false,
  );
  assert.equal(isImportant(el("message", { type: "headline" }, el("body", {}, "news"))), false);
  assert.equal(isImportant(el("message", { type: "error" })), true);
  assert.equal(isImportant(el("message", {}, el("subject", {}, "topic"))), true);
  const carbon = el(
    "message",
    {},
    el(
      "received",
      { xmlns: NS.CARBONS },
      el(
        "forwarded",
        { xmlns: NS.FORWARD },
        el("message", { xmlns: NS.CLIENT }, el("body", {}, "x")),
      ),
    ),
  );
  assert.equal(isImportant(carbon), true);
  assert.equal(isImportant(el("iq", { type: "result" })), true);
  // Serialized fan-out (MUC) is judged from its text.
  assert.equal(isImportant("<presence from='room@muc/nick' to='a@b/c'><x/></presence>"), false);
  assert.equal(isImportant("<message type='groupchat'><body>hi</body></message>"), true);
  assert.equal(isImportant("<message type='groupchat'><active/></message>"), false);
  assert.equal(isImportant("<presence type='subscribe'/>"), true);
});

Deno.test("ClientStateBuffer holds what can wait and flushes it, in order, before what cannot", () => {
  const buffer = new ClientStateBuffer({ delayFrom: ROMEO });
  assert.deepEqual(buffer.offer(presence("juliet@localhost/balcony", "one")), []);
  assert.deepEqual(buffer.offer(presence("nurse@localhost/kitchen", "two")), []);
  assert.deepEqual(buffer.offer(presence("juliet@localhost/balcony", "three")), []);
  assert.equal(buffer.size, 2, "a newer presence of a sender replaces the older one");
  const out = buffer.offer(el("message", {}, el("body", {}, "wake")));
  assert.deepEqual(texts(out), ["two", "three", "wake"]);
  assert.equal(buffer.size, 0);
  const held = out[0] as Element;
  assert.equal(held.getChild("delay", NS.DELAY)?.attrs.from, ROMEO, "held stanzas carry a delay");
  assert.equal((out[2] as Element).getChild("delay", NS.DELAY), undefined);
});

Deno.test("ClientStateBuffer replaces serialized presence by sender too, and flushes when full", () => {
  const buffer = new ClientStateBuffer({ delayFrom: ROMEO, max: 2 });
  buffer.offer("<presence from='room@muc/a'><x/></presence>");
  buffer.offer("<presence from='room@muc/a' type='unavailable'/>");
  assert.equal(buffer.size, 1);
  buffer.offer("<presence from='room@muc/b'/>");
  const out = buffer.offer("<presence from='room@muc/c'/>");
  assert.deepEqual(out, [
    "<presence from='room@muc/a' type='unavailable'/>",
    "<presence from='room@muc/b'/>",
    "<presence from='room@muc/c'/>",
  ]);
  assert.deepEqual(buffer.flush(), []);
});
