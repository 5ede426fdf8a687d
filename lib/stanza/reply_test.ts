import { strict as assert } from "node:assert";
import { el } from "../xml/element.ts";
import { errorReply, reply } from "./reply.ts";
import { StanzaError } from "./stanza_error.ts";

Deno.test("reply() swaps to and from and keeps the id", () => {
  const iq = el("iq", { from: "a@b/c", to: "b", id: "x1", type: "get" });
  assert.equal(reply(iq).toString(), "<iq to='a@b/c' from='b' id='x1' type='result'/>");
});

Deno.test("errorReply() carries the condition, the legacy code and by", () => {
  const presence = el("presence", { from: "a@b/c", to: "room@muc/nick" });
  const error = new StanzaError("auth", "not-authorized", { legacyCode: true });
  assert.equal(
    errorReply(presence, error)!.toString(),
    "<presence to='a@b/c' from='room@muc/nick' type='error'><error type='auth' code='401' " +
      "by='room@muc/nick'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" +
      "</error></presence>",
  );
});

Deno.test("errorReply() never answers an error", () => {
  const bounced = el("message", { from: "a@b", to: "c@d", type: "error" });
  assert.equal(errorReply(bounced, new StanzaError("cancel", "service-unavailable")), undefined);
});
