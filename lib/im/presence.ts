// Presence (RFC 6121 §4): initial presence with probes (§4.2), broadcast of updates and of
// unavailable presence to subscribers (§4.4, §4.5), answers to probes (§4.3), and redelivery of
// pending subscription requests at login (§3.1.3).
import { parseJid } from "../jid/jid.ts";
import { Priority } from "../router/hooks.ts";
import type { Router } from "../router/router.ts";
import { el } from "../xml/element.ts";
import { send } from "./_deliver.ts";
import { loadXml } from "../xml/stored.ts";
import type { Blocklists } from "./blocklists.ts";
import { hasFrom, hasTo, type Rosters } from "./rosters.ts";

/** Installs presence broadcast and probe handling. */
export function presenceModule(
  router: Router,
  { rosters, blocklists }: { rosters: Rosters; blocklists: Blocklists },
): void {
  const local = (jid: string) => jid.endsWith("@" + router.domain);

  router.hooks.on("presence-broadcast", ({ stanza, origin, previous }) => {
    const username = origin.jid.local;
    const items = rosters.items(username);
    // §4.2.2, §4.4.2, §4.5.2: to every contact with a subscription from the user.
    for (const item of items.values()) {
      if (!hasFrom(item) || !local(item.jid) || blocklists.blocks(username, item.jid)) continue;
      send(router, stanza.clone({ ...stanza.attrs, from: origin.jid.full, to: item.jid }));
    }
    if (stanza.attrs.type !== undefined || previous !== null) return;
    // Initial presence: the user's other available resources, then probes (§4.2.3), then
    // requests that wait for an answer (§3.1.3).
    for (const other of router.sessionsOf(origin.jid.bare)) {
      if (other === origin || other.presence === null) continue;
      origin.send(other.presence.clone({
        ...other.presence.attrs,
        from: other.jid.full,
        to: origin.jid.full,
      }));
    }
    for (const item of items.values()) {
      if (!hasTo(item) || !local(item.jid) || blocklists.blocks(username, item.jid)) continue;
      send(router, el("presence", { from: origin.jid.full, to: item.jid, type: "probe" }));
    }
    for (const request of rosters.pending(username)) {
      origin.send(loadXml(request.stanza));
    }
  }, Priority.DEFAULT);

  // §4.3.2: the contact's server answers a probe with the last presence of each available
  // resource, if the prober is subscribed; otherwise it says nothing.
  router.hooks.on("inbound", ({ stanza, to }) => {
    if (stanza.name !== "presence" || stanza.attrs.type !== "probe") return;
    const from = stanza.attrs.from;
    if (from === undefined) return true;
    const prober = parseJid(from).bare;
    if (prober !== to.bare && !hasFrom(rosters.item(to.local, prober))) return true;
    if (blocklists.blocks(to.local, from)) return true;
    for (const session of router.sessionsOf(to.bare)) {
      if (session.presence === null) continue;
      send(
        router,
        session.presence.clone({ ...session.presence.attrs, from: session.jid.full, to: from }),
      );
    }
    return true;
  });
}
