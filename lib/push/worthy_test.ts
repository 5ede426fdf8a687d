import { strict as assert } from "node:assert";
import { NS } from "../stanza/ns.ts";
import { el } from "../xml/element.ts";
import { OMEMO_LEGACY } from "./_ns.ts";
import { heldPushWorthy, pushWorthy } from "./worthy.ts";

const FROM = "romeo@localhost/orchard";

Deno.test("pushWorthy() takes messages with a body, and gives their sender and body", () => {
  assert.deepEqual(
    pushWorthy(el("message", { from: FROM, type: "chat" }, el("body", {}, "hi"))),
    { sender: FROM, body: "hi" },
  );
  assert.equal(pushWorthy(el("message", { from: FROM }, el("body", {}, ""))), null);
  assert.equal(pushWorthy(el("presence", { from: FROM })), null);
});

Deno.test("pushWorthy() leaves out chat states, receipts, headlines, errors and subjects", () => {
  const alone = [
    el("message", { from: FROM, type: "chat" }, el("composing", { xmlns: NS.CHAT_STATES })),
    el("message", { from: FROM }, el("received", { xmlns: NS.RECEIPTS, id: "m1" })),
    el("message", { from: FROM }, el("displayed", { xmlns: NS.CHAT_MARKERS, id: "m1" })),
    el("message", { from: FROM, type: "headline" }, el("body", {}, "news")),
    el("message", { from: FROM, type: "error" }, el("body", {}, "bounced")),
    el("message", { from: FROM, type: "groupchat" }, el("subject", {}, "t"), el("body", {}, "t")),
  ];
  for (const stanza of alone) assert.equal(pushWorthy(stanza), null, stanza.toString());
});

Deno.test("pushWorthy() takes encrypted messages (OMEMO) without a body, and call proposals", () => {
  const omemo = el(
    "message",
    { from: FROM, type: "chat" },
    el("encrypted", { xmlns: OMEMO_LEGACY }),
  );
  assert.deepEqual(pushWorthy(omemo), { sender: FROM, body: undefined });
  const call = el("message", { from: FROM }, el("propose", { xmlns: NS.JINGLE_MESSAGE, id: "c" }));
  assert.notEqual(pushWorthy(call), null);
});

Deno.test("pushWorthy() judges an incoming carbon by its message, never an outgoing one", () => {
  const inner = el("message", { xmlns: NS.CLIENT, from: FROM, type: "chat" }, el("body", {}, "x"));
  const carbon = (direction: string) =>
    el(
      "message",
      { from: "juliet@localhost" },
      el(direction, { xmlns: NS.CARBONS }, el("forwarded", { xmlns: NS.FORWARD }, inner)),
    );
  assert.deepEqual(pushWorthy(carbon("received")), { sender: FROM, body: "x" });
  assert.equal(pushWorthy(carbon("sent")), null);
});

Deno.test("heldPushWorthy() reads serialized stanzas, and only messages", () => {
  assert.deepEqual(
    heldPushWorthy(`<message from='${FROM}' type='groupchat'><body>hey</body></message>`),
    { sender: FROM, body: "hey" },
  );
  assert.equal(heldPushWorthy(`<presence from='${FROM}'/>`), null);
  assert.equal(heldPushWorthy(`<message from='${FROM}'><body>broken`), null);
});
