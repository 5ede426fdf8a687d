// Presence (RFC 6121 §4): initial presence with probes (§4.2), broadcast of updates and of
// unavailable presence to subscribers (§4.4, §4.5), answers to probes (§4.3, with the last
// unavailable presence and its time per XEP-0203 for a contact that is offline), and redelivery
// of pending subscription requests at login (§3.1.3).
import { parseJid } from "../jid/jid.ts";
import { Priority } from "../router/hooks.ts";
import type { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import { NS } from "../stanza/ns.ts";
import type { LastActivity, LastActivityStore } from "../storage/last_activity_store.ts";
import { el, type Element } from "../xml/element.ts";
import { send } from "./_deliver.ts";
import { loadXml } from "../xml/stored.ts";
import type { BlockCheck } from "./blocklists.ts";
import { hasFrom, hasTo, type Rosters } from "./rosters.ts";

/** Installs presence broadcast and probe handling. */
export function presenceModule(
  router: Router,
  { rosters, blocklists, lastActivity }: {
    rosters: Rosters;
    blocklists: BlockCheck;
    /** Logout time and last unavailable status, for probes of a contact that is offline. */
    lastActivity: LastActivityStore;
  },
): void {
  // When each session's current presence was sent: presence handed out later on its behalf
  // (answers to probes, to the user's resources that come online) carries it as an XEP-0203
  // delay, so clients can show since when a contact is away (Prosody does the same).
  const since = new WeakMap<BoundSession, string>();
  const stamped = (session: BoundSession, presence: Element, to: string) => {
    const copy = presence.clone({ ...presence.attrs, from: session.jid.full, to });
    const stamp = since.get(session);
    if (stamp !== undefined && !copy.getChild("delay", NS.DELAY)) {
      copy.append(el("delay", { xmlns: NS.DELAY, from: router.domain, stamp }));
    }
    return copy;
  };

  router.hooks.on("presence-broadcast", ({ stanza, origin, previous }) => {
    if (stanza.attrs.type === undefined) {
      since.set(origin, new Date().toISOString().replace(/\.\d+Z$/, "Z"));
    }
    const username = origin.jid.local;
    const items = rosters.items(username);
    // §4.2.2, §4.4.2, §4.5.2: to every contact with a subscription from the user.
    for (const item of items.values()) {
      if (!hasFrom(item) || !router.reaches(item.jid) || blocklists.blocks(username, item.jid)) {
        continue;
      }
      send(router, stanza.clone({ ...stanza.attrs, from: origin.jid.full, to: item.jid }));
    }
    if (stanza.attrs.type !== undefined || previous !== null) return;
    // Initial presence: the user's other available resources, then probes (§4.2.3), then
    // requests that wait for an answer (§3.1.3).
    for (const other of router.sessionsOf(origin.jid.bare)) {
      if (other === origin || other.presence === null) continue;
      origin.send(stamped(other, other.presence, origin.jid.full));
    }
    for (const item of items.values()) {
      if (!hasTo(item) || !router.reaches(item.jid) || blocklists.blocks(username, item.jid)) {
        continue;
      }
      send(router, el("presence", { from: origin.jid.full, to: item.jid, type: "probe" }));
    }
    for (const request of rosters.pending(username)) {
      // A blocked contact's request stays unheard (XEP-0191 §3.3: no presence from it).
      if (blocklists.blocks(username, request.contact)) continue;
      origin.send(loadXml(request.stanza));
    }
  }, Priority.DEFAULT);

  // §4.3.2: the contact's server answers a probe from an entitled prober (subscription from or
  // both on the contact's roster) with the last presence of each available resource or, when
  // none is available, with unavailable presence from the contact's bare JID carrying the status
  // and time of the last logout. An unentitled prober gets "unsubscribed" (the RFC allows that or
  // silence; Prosody answers so, and it lets the prober's server correct a stale "to"), unless its
  // subscription request is pending, which "unsubscribed" would cancel (Appendix A.3.4). A prober
  // the contact blocks gets nothing (XEP-0191 §3.1).
  router.hooks.on("inbound", ({ stanza, to }) => {
    if (stanza.name !== "presence" || stanza.attrs.type !== "probe") return;
    const from = stanza.attrs.from;
    if (from === undefined) return true;
    const prober = parseJid(from).bare;
    if (blocklists.blocks(to.local, from)) return true;
    if (prober !== to.bare && !hasFrom(rosters.item(to.local, prober))) {
      if (rosters.hasPending(to.local, prober)) return true;
      send(router, el("presence", { from: to.bare, to: prober, type: "unsubscribed" }));
      return true;
    }
    let available = false;
    for (const session of router.sessionsOf(to.bare)) {
      if (session.presence === null) continue;
      available = true;
      send(router, stamped(session, session.presence, from));
    }
    if (!available) send(router, lastUnavailable(to.bare, from, lastActivity.get(to.local)));
    return true;
  });
}

/** RFC 6121 §4.3.2 for a contact with no available resource; `last` is its last logout. */
function lastUnavailable(
  contact: string,
  to: string,
  last: LastActivity | null,
) {
  const presence = el("presence", { from: contact, to, type: "unavailable" });
  if (last === null) return presence;
  if (last.status !== null) presence.append(el("status", {}, last.status));
  return presence.append(
    el("delay", { xmlns: NS.DELAY, from: contact, stamp: new Date(last.logoutAt).toISOString() }),
  );
}
