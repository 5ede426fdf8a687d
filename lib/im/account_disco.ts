// Who may discover an account (XEP-0030 §3.1 on a bare JID, answered by the server on the
// account's behalf, RFC 6120 §10.3.3). XEP-0030 §8: disco#info from anyone but the owner and the
// contacts subscribed to its presence MUST get service-unavailable, the answer for an account that
// does not exist, so a stranger learns neither the account's existence nor its features (Prosody
// does the same). disco#items needs no check: an account lists no items (no resources, no PEP),
// and §8 wants an empty result for strangers, not an error.
import { parseJid } from "../jid/jid.ts";
import { Priority } from "../router/hooks.ts";
import type { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { hasFrom, type Rosters } from "./rosters.ts";

/** Installs the check on disco#info queries to accounts' bare JIDs. */
export function accountDiscoAccess(router: Router, rosters: Rosters): void {
  router.hooks.on("inbound", ({ stanza, to }) => {
    if (stanza.name !== "iq" || to.resource !== "") return;
    if (stanza.attrs.type !== "get" && stanza.attrs.type !== "set") return;
    const payload = stanza.elements()[0];
    if (payload?.name !== "query") return;
    if (payload.attrs.xmlns !== NS.DISCO_INFO) return;
    const from = stanza.attrs.from;
    let sender: string | undefined;
    try {
      sender = from === undefined ? undefined : parseJid(from).bare;
    } catch {
      sender = undefined;
    }
    if (sender === to.bare || (sender !== undefined && hasFrom(rosters.item(to.local, sender)))) {
      return;
    }
    throw new StanzaError("cancel", "service-unavailable");
  }, Priority.ACCESS);
}
