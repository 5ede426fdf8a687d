import { strict as assert } from "node:assert";
import { el } from "../xml/element.ts";
import {
  EndedResumptions,
  failed,
  parseBoolean,
  parseH,
  REQUEST_ACK_EVERY,
  StreamManagement,
} from "./stream_management.ts";

const LIMITS = { maxUnackedStanzas: 3, maxUnackedBytes: 100 };

function resumable(): StreamManagement {
  return new StreamManagement({ resume: true, id: "sm-1", timeoutS: 60 }, LIMITS);
}

Deno.test("StreamManagement counts handled stanzas and answers <r/> with h (XEP-0198 §4)", () => {
  const sm = new StreamManagement({ resume: false }, LIMITS);
  assert.deepEqual(sm.resumable, false);
  assert.deepEqual(sm.answer().toString(), "<a xmlns='urn:xmpp:sm:3' h='0'/>");
  sm.countHandled();
  sm.countHandled();
  assert.deepEqual(sm.answer().toString(), "<a xmlns='urn:xmpp:sm:3' h='2'/>");
});

Deno.test("StreamManagement.ack() drops acknowledged stanzas, keeps the rest in order", () => {
  const sm = resumable();
  sm.countSent("<message id='1'/>", 16);
  sm.countSent("<message id='2'/>", 16);
  sm.countSent(el("message", { id: "3" }), 16);
  assert.deepEqual(sm.sent, 3);
  assert.deepEqual(sm.ack(1), { ok: true, acked: 1 });
  assert.deepEqual(sm.unackedCount, 2);
  assert.deepEqual(sm.unackedBytes, 32);
  assert.deepEqual(sm.unacked()[0], "<message id='2'/>");
  assert.deepEqual(sm.ack(1), { ok: true, acked: 0 }, "the same h again acks nothing");
  assert.deepEqual(sm.ack(0), { ok: true, acked: 0 }, "a stale h is ignored");
  assert.deepEqual(sm.ack(3), { ok: true, acked: 2 });
  assert.deepEqual(sm.unackedCount, 0);
});

Deno.test("StreamManagement.ack() reports an h beyond what was sent (XEP-0198 §6)", () => {
  const sm = resumable();
  sm.countSent("<iq/>", 5);
  assert.deepEqual(sm.ack(4), { ok: false, h: 4, sent: 1 });
  assert.deepEqual(sm.unackedCount, 1, "nothing dropped");
});

Deno.test("StreamManagement.countSent() reports when the queue is past its bounds", () => {
  const sm = resumable();
  assert.deepEqual(sm.countSent("a", 10), true);
  assert.deepEqual(sm.countSent("b", 10), true);
  assert.deepEqual(sm.countSent("c", 10), true);
  assert.deepEqual(sm.countSent("d", 10), false, "more stanzas than allowed");
  const bytes = resumable();
  assert.deepEqual(bytes.countSent("big", 101), false, "more bytes than allowed");
});

Deno.test("StreamManagement asks for an ack every few stanzas, not while one is outstanding", () => {
  const sm = resumable();
  const many = new StreamManagement({ resume: false }, {
    maxUnackedStanzas: 100,
    maxUnackedBytes: 1e6,
  });
  for (let i = 1; i < REQUEST_ACK_EVERY; i++) many.countSent("<iq/>", 5);
  assert.deepEqual(many.shouldRequest, false);
  many.countSent("<iq/>", 5);
  assert.deepEqual(many.shouldRequest, true);
  assert.deepEqual(many.request().toString(), "<r xmlns='urn:xmpp:sm:3'/>");
  for (let i = 0; i < REQUEST_ACK_EVERY; i++) many.countSent("<iq/>", 5);
  assert.deepEqual(many.shouldRequest, false, "an <r/> is outstanding");
  many.awaitingAck = false;
  assert.deepEqual(many.shouldRequest, true);
  assert.deepEqual(sm.shouldRequest, false);
});

Deno.test("StreamManagement.takeUnacked() empties the queue and keeps the count", () => {
  const sm = resumable();
  sm.countSent("a", 1);
  sm.countSent("b", 1);
  assert.deepEqual(sm.takeUnacked(), ["a", "b"]);
  assert.deepEqual(sm.unackedCount, 0);
  assert.deepEqual(sm.sent, 2);
  assert.deepEqual(sm.ack(2), { ok: true, acked: 0 });
});

Deno.test("parseH(), parseBoolean() and failed() follow the schema (XEP-0198 §4, §6, §13)", () => {
  assert.deepEqual(parseH("0"), 0);
  assert.deepEqual(parseH("12"), 12);
  assert.deepEqual(parseH("-1"), undefined);
  assert.deepEqual(parseH("1.5"), undefined);
  assert.deepEqual(parseH(undefined), undefined);
  assert.deepEqual(parseH(String(2 ** 32 - 1)), 2 ** 32 - 1, "h is an xs:unsignedInt (§4)");
  assert.deepEqual(parseH(String(2 ** 32)), undefined);
  assert.deepEqual(parseBoolean("true"), true);
  assert.deepEqual(parseBoolean("1"), true);
  assert.deepEqual(parseBoolean("false"), false);
  assert.deepEqual(parseBoolean(undefined), false);
  assert.deepEqual(
    failed("item-not-found").toString(),
    "<failed xmlns='urn:xmpp:sm:3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>",
  );
  assert.deepEqual(failed("item-not-found", 7).attrs.h, "7");
});

Deno.test("EndedResumptions: per account and id, once, the oldest forgotten past capacity", () => {
  const ended = new EndedResumptions(2);
  ended.record("romeo@localhost", "a", 5);
  assert.equal(ended.take("juliet@localhost", "a"), undefined, "another account learns nothing");
  assert.equal(ended.take("romeo@localhost", "a"), 5);
  assert.equal(ended.take("romeo@localhost", "a"), undefined, "given once");
  ended.record("romeo@localhost", "b", 1);
  ended.record("romeo@localhost", "c", 2);
  ended.record("romeo@localhost", "d", 3);
  assert.equal(ended.take("romeo@localhost", "b"), undefined);
  assert.equal(ended.take("romeo@localhost", "d"), 3);
});
