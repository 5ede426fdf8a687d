// Occupant identifiers. XEP-0421 §3 (the room advertises urn:xmpp:occupant-id:0 in its disco#info),
// §4 (every presence and message from an occupant JID carries <occupant-id/>, stable for one real
// bare JID in one room, revealing nothing of it; one a client sent is removed). The id is the
// base64 HMAC-SHA-256, under the service's secret, of the room JID and the real bare JID.
import { createHmac } from "node:crypto";
import { el } from "../../xml/element.ts";
import { NS } from "../../stanza/ns.ts";
import { type MucHooks } from "../hooks.ts";

/** Adds `<occupant-id/>` to everything sent from an occupant JID. */
export function occupantIdFeature(hooks: MucHooks): void {
  hooks.on("disco-info", ({ features }) => {
    features.add(NS.OCCUPANT_ID);
  });

  hooks.on("occupant-tags", ({ room, bareJid, tags }) => {
    tags.push(
      el("occupant-id", { xmlns: NS.OCCUPANT_ID, id: occupantId(hooks.secret, room.jid, bareJid) }),
    );
  });
}

/** The occupant id of `bareJid` in room `roomJid` (XEP-0421 §4). */
export function occupantId(secret: Uint8Array, roomJid: string, bareJid: string): string {
  // NUL separates the two: no JID contains it, so no other pair gives the same input.
  return createHmac("sha256", secret).update(`${roomJid}\0${bareJid}`, "utf8").digest("base64");
}
