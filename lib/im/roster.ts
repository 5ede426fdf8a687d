// Roster management (RFC 6121 §2): get (§2.2) with versioning (§2.6), set (§2.3), remove (§2.5),
// and the error cases of §2.3.3 (bad-request: several items, duplicate groups; not-acceptable:
// over-long name or group, empty group) and §2.5.3.
import { JidError, parseJid } from "../jid/jid.ts";
import type { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import { reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el, type Element } from "../xml/element.ts";
import { send, sendUnavailable } from "./_deliver.ts";
import { hasFrom, itemElement, type RosterItem, type Rosters } from "./rosters.ts";
import type { Subscriptions } from "./subscriptions.ts";

/** Longest item name or group name accepted, in UTF-8 bytes (§2.3.3 not-acceptable). */
export const MAX_NAME_BYTES = 1023;

const encoder = new TextEncoder();

/** What a roster set asks for, validated. */
export type RosterSet =
  | { remove: true; jid: string }
  | { remove: false; jid: string; name?: string; groups: string[] };

/** Reads and validates the payload of a roster set (§2.3.3); throws the right `StanzaError`. */
export function readRosterSet(query: Element): RosterSet {
  const items = query.getChildren("item", NS.ROSTER);
  if (items.length !== 1 || query.elements().length !== 1) {
    throw new StanzaError("modify", "bad-request", {
      text: "A roster set must contain exactly one item",
    });
  }
  const item = items[0];
  let jid: string;
  try {
    const parsed = parseJid(item.attrs.jid ?? "");
    if (!parsed.isBare) throw new JidError("a roster item is a bare JID");
    jid = parsed.bare;
  } catch (error) {
    throw new StanzaError("modify", "bad-request", {
      text: `Invalid item JID: ${error instanceof Error ? error.message : error}`,
    });
  }
  // §2.1.2.5: in a roster set the server ignores every value of 'subscription' but "remove"
  // (clients echo back the items they hold, state included); 'ask' is likewise the server's own.
  if (item.attrs.subscription === "remove") return { remove: true, jid };
  const name = item.attrs.name;
  if (name !== undefined && encoder.encode(name).length > MAX_NAME_BYTES) {
    throw new StanzaError("modify", "not-acceptable", { text: "The item name is too long" });
  }
  const groups: string[] = [];
  for (const group of item.getChildren("group")) {
    const text = group.getText();
    if (text === "" || encoder.encode(text).length > MAX_NAME_BYTES) {
      throw new StanzaError("modify", "not-acceptable", {
        text: "A group name must be 1 to 1023 bytes long",
      });
    }
    // §2.3.3: a duplicate group is a bad request (the server cannot tell what was meant).
    if (groups.includes(text)) {
      throw new StanzaError("modify", "bad-request", { text: `Duplicate group "${text}"` });
    }
    groups.push(text);
  }
  return { remove: false, jid, name: name === "" ? undefined : name, groups };
}

/** Answers roster get and set on the user's own account. */
export function rosterModule(
  router: Router,
  { rosters, subscriptions }: { rosters: Rosters; subscriptions: Subscriptions },
): void {
  router.iq.on("account", "query", NS.ROSTER, (stanza, { origin }) => {
    // §2.1.5, §2.3.3: only the user's own roster, and only from the user's own sessions.
    if (origin === undefined || (stanza.attrs.to ?? origin.jid.bare) !== origin.jid.bare) {
      throw new StanzaError("auth", "forbidden", { text: "This is not your roster" });
    }
    const username = origin.jid.local;
    const query = stanza.getChild("query", NS.ROSTER)!;
    if (stanza.attrs.type === "get") {
      rosters.markInterested(origin);
      const requested = query.attrs.ver;
      const version = String(rosters.version(username));
      // §2.6.3: nothing has changed since the version the client holds.
      if (requested !== undefined && requested === version) return reply(stanza);
      // §2.6.2: versioning is offered (the stream feature), so every result carries the version,
      // also to a client that sent none; it may start versioning from this result on.
      return reply(stanza).append(
        el(
          "query",
          { xmlns: NS.ROSTER, ver: version },
          ...[...rosters.items(username).values()].map(itemElement),
        ),
      );
    }
    const set = readRosterSet(query);
    // One's own JID is no contact (Prosody refuses it the same way; subscriptions to oneself are
    // meaningless, the server broadcasts to one's own resources anyway, RFC 6121 §4.2.2).
    if (set.jid === origin.jid.bare) {
      throw new StanzaError("cancel", "not-allowed", { text: "Your own JID is not a contact" });
    }
    if (set.remove) {
      const item = rosters.item(username, set.jid);
      if (item === undefined) {
        throw new StanzaError("cancel", "item-not-found", { text: "No such roster item" });
      }
      const cancels = subscriptions.cancelAll(username, set.jid);
      rosters.remove(username, set.jid, { afterAnswer: true });
      for (const presence of cancels) send(router, presence);
      // The contact stops seeing us: unavailable to each of its resources, not a broadcast.
      if (hasFrom(item)) {
        for (const contactSession of router.sessionsOf(set.jid)) {
          if (contactSession.presence !== null) {
            sendUnavailable(router, origin.jid.bare, contactSession.jid.full);
          }
        }
      }
      return reply(stanza);
    }
    const existing = rosters.item(username, set.jid);
    const item: RosterItem = {
      ...(existing ?? { jid: set.jid, subscription: "none", ask: false, approved: false }),
      groups: set.groups,
    };
    if (set.name === undefined) delete item.name;
    else item.name = set.name;
    rosters.save(username, item, { afterAnswer: true });
    return reply(stanza);
  });
}
