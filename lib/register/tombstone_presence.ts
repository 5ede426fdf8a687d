// Presence to a removed account (XEP-0077 §3.2 leaves the name reserved for a while, see
// Accounts.reservedUntil): its former contacts learn that it is gone instead of hearing nothing.
//
// Available or unavailable presence to the bare JID gets an error presence with `<gone/>` (RFC
// 6120 §8.3.3.5: the recipient is no longer at this address) and an `unsubscribe` from it; a
// probe gets the error and an `unsubscribed` — what Prosody's mod_tombstones sends. A subscription
// request gets the error and `unsubscribed` too (RFC 6121 §3.1.3: a contact that cannot be
// subscribed to answers "unsubscribed"), so the requester's roster does not wait forever; Prosody
// acknowledges it with unavailable presence only. Other subscription types change nothing.
import type { Accounts } from "../accounts/accounts.ts";
import { JidError, parseJid } from "../jid/jid.ts";
import { Priority } from "../router/hooks.ts";
import type { Router } from "../router/router.ts";
import { errorReply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el } from "../xml/element.ts";

/** Installs the answers to presence for removed accounts whose name is still reserved. */
export function tombstonePresence(router: Router, accounts: Accounts): void {
  router.hooks.on("client-stanza", ({ stanza, origin }) => {
    if (stanza.name !== "presence" || stanza.attrs.to === undefined) return;
    const type = stanza.attrs.type;
    const follow = type === undefined || type === "unavailable"
      ? "unsubscribe"
      : type === "probe" || type === "subscribe"
      ? "unsubscribed"
      : undefined;
    if (follow === undefined) return;
    let to;
    try {
      to = parseJid(stanza.attrs.to);
    } catch (error) {
      if (error instanceof JidError) return;
      throw error;
    }
    if (to.domain !== router.domain || to.local === "" || to.resource !== "") return;
    if (accounts.exists(to.local) || accounts.reservedUntil(to.local) === null) return;
    const error = errorReply(
      stanza,
      new StanzaError("cancel", "gone", { text: "User deleted" }),
    );
    if (error) origin.send(error);
    router.route(el("presence", { from: to.bare, to: origin.jid.bare, type: follow }));
    return true;
  }, Priority.ACCESS);
}
