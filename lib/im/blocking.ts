// Blocking Command (XEP-0191): blocklist retrieval (§3.1), block (§3.3) and unblock (§3.4, §3.5)
// with pushes to every resource that requested the list, and the enforcement of §3.3 on
// stanzas in both directions.
//
// Inbound stanzas from a blocked entity: presence is always dropped; messages and iq get/set are
// answered with service-unavailable when `bounce` is true (XEP-0191 §3.5 recommends an error,
// and it looks the same as an unknown or offline user), or dropped silently when false.
import { type Jid, JidError, parseJid } from "../jid/jid.ts";
import { Priority } from "../router/hooks.ts";
import type { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import { NS } from "../stanza/ns.ts";
import { errorReply, reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el, type Element } from "../xml/element.ts";
import { afterAnswer, send, sendAvailable } from "./_deliver.ts";
import type { Blocklists } from "./blocklists.ts";
import { hasFrom, hasTo, type Rosters } from "./rosters.ts";

/** Options of the blocking module. */
export interface BlockingOptions {
  blocklists: Blocklists;
  rosters: Rosters;
  /** Answer stanzas from blocked entities with service-unavailable instead of dropping them. */
  bounce: boolean;
}

let pushNumber = 0;

/** Installs the blocking command and its enforcement. */
export function blockingModule(router: Router, options: BlockingOptions): void {
  const { blocklists, rosters, bounce } = options;
  const interested = new WeakSet<BoundSession>();

  const own = (stanza: Element, origin: BoundSession | undefined): BoundSession => {
    if (origin === undefined || (stanza.attrs.to ?? origin.jid.bare) !== origin.jid.bare) {
      throw new StanzaError("auth", "forbidden", { text: "This is not your blocklist" });
    }
    return origin;
  };

  // The push follows the answer to the block or unblock, as Prosody orders them (XEP-0191 §3.3
  // fixes no order): the requesting resource learns of its success first. `then` runs after it.
  const push = (bare: string, payload: Element, then?: () => void) =>
    afterAnswer(() => {
      pushNow(bare, payload);
      then?.();
    });
  const pushNow = (bare: string, payload: Element) => {
    for (const session of router.sessionsOf(bare)) {
      if (!interested.has(session)) continue;
      session.send(
        el(
          "iq",
          { type: "set", id: `block${(++pushNumber).toString(36)}`, to: session.jid.full },
          payload,
        ),
      );
    }
  };

  router.iq.on("account", "blocklist", NS.BLOCKING, (stanza, { origin }) => {
    const session = own(stanza, origin);
    if (stanza.attrs.type !== "get") throw new StanzaError("modify", "bad-request");
    interested.add(session);
    return reply(stanza).append(
      el(
        "blocklist",
        { xmlns: NS.BLOCKING },
        ...[...blocklists.list(session.jid.local)].sort().map((jid) => el("item", { jid })),
      ),
    );
  });

  router.iq.on("account", "block", NS.BLOCKING, (stanza, { origin }) => {
    const session = own(stanza, origin);
    if (stanza.attrs.type !== "set") throw new StanzaError("modify", "bad-request");
    const jids = readItems(stanza.getChild("block", NS.BLOCKING)!);
    if (jids.length === 0) {
      throw new StanzaError("modify", "bad-request", { text: "Nothing to block" });
    }
    const user = session.jid.bare;
    const username = session.jid.local;
    const added = blocklists.add(username, jids);
    // A blocked contact's pending request could not be answered any more (the answer would be
    // blocked too): it goes, as Prosody drops it, and the contact must ask again once unblocked.
    for (const jid of added) rosters.removePending(username, jid);
    push(user, el("block", { xmlns: NS.BLOCKING }, ...jids.map((jid) => el("item", { jid }))));
    // §3.3: a blocked contact that could see the user now sees the user go offline.
    for (const jid of added) {
      for (const mine of router.sessionsOf(user)) {
        const directed = [...mine.directedPresence ?? []].filter((t) =>
          t === jid || t.startsWith(jid + "/")
        );
        for (const target of directed) mine.directedPresence?.delete(target);
        if (mine.presence === null) continue;
        const subscriber = !jid.includes("/") && hasFrom(rosters.item(username, jid));
        for (const target of subscriber ? [jid] : directed) {
          send(router, el("presence", { from: mine.jid.full, to: target, type: "unavailable" }));
        }
      }
    }
    return reply(stanza);
  });

  router.iq.on("account", "unblock", NS.BLOCKING, (stanza, { origin }) => {
    const session = own(stanza, origin);
    if (stanza.attrs.type !== "set") throw new StanzaError("modify", "bad-request");
    const jids = readItems(stanza.getChild("unblock", NS.BLOCKING)!);
    const user = session.jid.bare;
    const username = session.jid.local;
    // §3.5: an unblock without items empties the list.
    const removed = blocklists.remove(username, jids.length === 0 ? undefined : jids);
    // §3.4: presence flows again: ours to subscribers at once...
    const probes: string[] = [];
    for (const jid of removed) {
      const item = rosters.item(username, jid);
      if (hasFrom(item)) sendAvailable(router, user, jid);
      if (hasTo(item)) probes.push(jid);
    }
    // ...and theirs, dropped while they were blocked, by a probe once the push is out (Prosody
    // sends none, so its clients see such contacts offline until they next change presence).
    push(
      user,
      el("unblock", { xmlns: NS.BLOCKING }, ...jids.map((jid) => el("item", { jid }))),
      () => {
        for (const jid of probes) {
          send(router, el("presence", { from: user, to: jid, type: "probe" }));
        }
      },
    );
    return reply(stanza);
  });

  // Outbound: the user's own stanzas to a blocked entity (§3.3).
  router.hooks.on("client-stanza", ({ stanza, origin }) => {
    const to = stanza.attrs.to;
    if (to === undefined || blocklists.list(origin.jid.local).size === 0) return;
    let target: Jid;
    try {
      target = parseJid(to);
    } catch {
      return;
    }
    if (!blocklists.blocks(origin.jid.local, target.full)) return;
    const type = stanza.attrs.type;
    // §3.3: every outbound stanza gets the error, presence included (as Prosody); iq results and
    // errors of any kind are dropped silently.
    if (
      (stanza.name === "message" || stanza.name === "presence") && type !== "error" ||
      stanza.name === "iq" && (type === "get" || type === "set")
    ) {
      // Straight to the sender: routed, the error would come "from" the blocked JID and be dropped.
      const error = errorReply(
        stanza,
        new StanzaError("cancel", "not-acceptable", {
          text: "You have blocked this contact",
          extra: el("blocked", { xmlns: NS.BLOCKING_ERRORS }),
        }),
      );
      if (error) origin.send(error);
    }
    return true;
  }, Priority.ACCESS);

  // Inbound: stanzas from an entity the recipient blocks (§3.3).
  router.hooks.on("inbound", ({ stanza, to }) => {
    const from = stanza.attrs.from;
    if (from === undefined || from === router.domain || !blocklists.blocks(to.local, from)) return;
    if (
      from.startsWith(to.bare) && (from.length === to.bare.length || from[to.bare.length] === "/")
    ) {
      return; // one's own resources are never blocked
    }
    const type = stanza.attrs.type;
    const answerable = stanza.name === "message" && type !== "error" ||
      stanza.name === "iq" && (type === "get" || type === "set");
    if (bounce && answerable) throw new StanzaError("cancel", "service-unavailable");
    return true;
  }, Priority.ACCESS);
}

function readItems(payload: Element): string[] {
  return payload.getChildren("item", NS.BLOCKING).map((item) => {
    try {
      return parseJid(item.attrs.jid ?? "").full;
    } catch (error) {
      throw new StanzaError("modify", "jid-malformed", {
        text: error instanceof JidError ? error.message : "Invalid JID",
      });
    }
  });
}
