// Message Carbons (XEP-0280): enabling and disabling (§4, §5), `sent` and `received` copies of
// eligible messages to the user's other carbons-enabled resources (§6, §7), and the exclusions
// of §8 (`<private/>`) and XEP-0334 (`<no-copy/>`).
import { Priority } from "../router/hooks.ts";
import type { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import { NS } from "../stanza/ns.ts";
import { reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el, type Element } from "../xml/element.ts";

/** XEP-0280 §6: chat messages, and normal ones with a body; not private or no-copy ones. */
export function isEligible(stanza: Element): boolean {
  const type = stanza.attrs.type ?? "normal";
  if (type !== "chat" && !(type === "normal" && stanza.getChild("body"))) return false;
  if (stanza.getChild("private", NS.CARBONS) || stanza.getChild("no-copy", NS.HINTS)) return false;
  // A carbon is never copied again, and MUC private messages stay with the session in the room.
  if (stanza.getChild("sent", NS.CARBONS) || stanza.getChild("received", NS.CARBONS)) return false;
  return stanza.getChild("x", NS.MUC_USER) === undefined;
}

/** The `<message/>` that wraps a copy for one resource. */
export function carbon(
  direction: "sent" | "received",
  original: Element,
  to: BoundSession,
): Element {
  const inner = original.clone({ ...original.attrs, xmlns: NS.CLIENT });
  return el(
    "message",
    { from: to.jid.bare, to: to.jid.full, type: original.attrs.type ?? "normal" },
    el(direction, { xmlns: NS.CARBONS }, el("forwarded", { xmlns: NS.FORWARD }, inner)),
  );
}

/** Installs carbons (the module declares urn:xmpp:carbons:2). */
export function carbonsModule(router: Router): void {
  /** Carbons-enabled sessions by bare JID. */
  const enabled = new Map<string, Set<BoundSession>>();

  const toggle = (stanza: Element, origin: BoundSession | undefined, on: boolean) => {
    if (origin === undefined || (stanza.attrs.to ?? origin.jid.bare) !== origin.jid.bare) {
      throw new StanzaError("auth", "forbidden");
    }
    if (stanza.attrs.type !== "set") throw new StanzaError("modify", "bad-request");
    const bare = origin.jid.bare;
    if (on) {
      let set = enabled.get(bare);
      if (!set) enabled.set(bare, set = new Set());
      set.add(origin);
    } else {
      enabled.get(bare)?.delete(origin);
      if (enabled.get(bare)?.size === 0) enabled.delete(bare);
    }
    return reply(stanza);
  };
  router.iq.on("account", "enable", NS.CARBONS, (s, { origin }) => toggle(s, origin, true));
  router.iq.on("account", "disable", NS.CARBONS, (s, { origin }) => toggle(s, origin, false));
  router.onSessionEnded((session) => {
    const set = enabled.get(session.jid.bare);
    if (set?.delete(session) && set.size === 0) enabled.delete(session.jid.bare);
  });

  // §7: what one resource sends is copied to the others.
  router.hooks.on("client-stanza", ({ stanza, origin }) => {
    if (stanza.name !== "message") return;
    const set = enabled.get(origin.jid.bare);
    if (set === undefined || (set.size === 1 && set.has(origin)) || !isEligible(stanza)) return;
    for (const session of set) {
      if (session !== origin) session.send(carbon("sent", stanza, session));
    }
  }, Priority.LATE);

  // §6: what one resource receives is copied to the others.
  router.hooks.on("message-delivered", ({ stanza, to, sessions }) => {
    const set = enabled.get(to.bare);
    if (set === undefined || !isEligible(stanza)) return;
    for (const session of set) {
      if (!sessions.includes(session)) session.send(carbon("received", stanza, session));
    }
  });
}
