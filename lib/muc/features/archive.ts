// Room archives. XEP-0313 §3.3.2 (the archive on the room's bare JID), §3.5 (each archived
// message gets a XEP-0359 <stanza-id/> by the room; a client's own is removed, XEP-0359 §5), §4
// (queries, with the account archive's form and RSM paging: lib/mam), §7 (urn:xmpp:mam:2 in the
// room's disco#info), §6.1.2 (groupchat messages with a <body/>, each once, no private messages;
// only those who may enter may read: not outcasts, members in members-only rooms; results without
// 'to', from the sender's occupant JID), §8.4 (a client's muc#user <x/> removed). Prosody's
// mod_muc_mam option muc#roomconfig_enablearchiving turns it on and off (default on, as its
// muc_log_by_default); a room's archive goes with the room, and a new room never inherits one an
// earlier room of the same name left (a temporary room's, across a restart).
// §6.1.2 on real JIDs: each message is kept with its sender's real full JID; a result carries it
// as <x xmlns='http://jabber.org/protocol/muc#user'><item jid='...'/></x> when the room is
// non-anonymous or the querier may see real JIDs at query time: a moderator, or, when not in the
// room, an owner or admin (whom entering makes moderators). Prosody keeps the bare JID and only
// while the room is non-anonymous.
// `with` (§4.1.1, "the publisher of the item"): the room's bare JID selects everything, an
// occupant JID (room/nick) what was said under that nickname; any other JID, nothing (a real JID
// would tell a semi-anonymous room's occupants who spoke). Prosody ignores `with` on rooms.
// Subject changes are not archived (§6.1.2 says they SHOULD be; Prosody does not either, and
// clients take the subject from the join): only messages with a <body/>, a subject among them.
// Retention (`[muc] archive_expires_after`) and the service-wide switch (`[muc] archiving`, with
// stanzaIdFilter when off) are the module's (lib/muc/mod.ts).
import {
  type ArchiveStore,
  type PageLimits,
  queryForm,
  resultMessage,
  runQuery,
  stripStanzaIds,
} from "../../mam/mod.ts";
import { NS } from "../../stanza/ns.ts";
import { StanzaError } from "../../stanza/stanza_error.ts";
import { el, Element } from "../../xml/element.ts";
import { hasAffiliation, hasRole } from "../affiliation.ts";
import { parseBoolean } from "../config_form.ts";
import type { MucFeature } from "../hooks.ts";
import type { Room } from "../room.ts";
import type { Jid } from "../../jid/jid.ts";

const FIELD = "muc#roomconfig_enablearchiving";

/** What {@linkcode archiveFeature} needs: the rooms' archive (owners are room JIDs), page sizes. */
export interface ArchiveOptions extends PageLimits {
  store: ArchiveStore;
}

/**
 * XEP-0359 §5 without archives: a `<stanza-id/>` a client put under the room's name is removed
 * all the same (what archiveFeature does for rooms that archive).
 */
export const stanzaIdFilter: MucFeature = (hooks) => {
  hooks.on("groupchat-message", ({ room, message }) => stripStanzaIds(message, room.jid));
};

/** Archives what is said in rooms that allow it and answers MAM queries to the room. */
export function archiveFeature(options: ArchiveOptions): MucFeature {
  const { store } = options;
  return (hooks) => {
    hooks.field({
      var: FIELD,
      type: "boolean",
      label: "Archive messages",
      get: (config) => config.archiving,
      set: (draft, values) => {
        draft.archiving = parseBoolean(FIELD, values);
      },
    });

    hooks.on("disco-info", ({ room, features }) => {
      if (room.config.archiving) features.add(NS.MAM);
    });

    hooks.on("groupchat-message", ({ room, occupant, message, origin }) => {
      stripStanzaIds(message, room.jid);
      if (!room.config.archiving || message.getChild("body") === undefined) return;
      const { to: _to, ...attrs } = message.attrs;
      const kept = message.children.filter((child) =>
        typeof child === "string" || child.name !== "x" || child.attrs.xmlns !== NS.MUC_USER
      );
      const id = crypto.randomUUID();
      store.append(room.jid, {
        id,
        // The publisher is the occupant JID (§4.1.1): a "with" query names the nickname.
        with: room.jid,
        withResource: occupant.nick,
        direction: "in",
        stanza: new Element("message", attrs, kept).toString(NS.CLIENT),
        realJid: origin.full,
      });
      message.children.push(el("stanza-id", { xmlns: NS.STANZA_ID, id, by: room.jid }));
    });

    hooks.on("room-destroyed", ({ room }) => store.clear(room.jid));
    hooks.on("room-created", ({ room }) => store.clear(room.jid));

    hooks.iq("get", NS.MAM, "query", ({ room, origin, reply }) => {
      mayRead(room, origin.bare);
      reply(el("query", { xmlns: NS.MAM }, queryForm()));
    });

    hooks.iq("set", NS.MAM, "query", ({ room, origin, query: element, reply }) => {
      mayRead(room, origin.bare);
      const withJids = seesRealJids(room, origin);
      const fin = runQuery(
        element,
        { store, owner: room.jid, limits: options },
        (item, queryid) => {
          const result = resultMessage(item, { to: origin.full, from: room.jid, queryid });
          if (withJids && item.realJid !== undefined) {
            result.getChild("result", NS.MAM)?.getChild("forwarded", NS.FORWARD)
              ?.getChild("message", NS.CLIENT)
              ?.append(el("x", { xmlns: NS.MUC_USER }, el("item", { jid: item.realJid })));
          }
          room.send(result, origin.full);
        },
      );
      reply(fin);
    });
  };
}

/**
 * §6.1.2: whether the querier may see the senders' real JIDs now: anyone in a non-anonymous
 * room; in a semi-anonymous one a moderator, or an owner or admin not in the room.
 */
function seesRealJids(room: Room, origin: Jid): boolean {
  if (room.config.whois === "anyone") return true;
  const occupant = room.occupantBySession(origin.full);
  if (occupant !== undefined) return hasRole(occupant.role, "moderator");
  return hasAffiliation(room.affiliationOf(origin.bare), "admin");
}

/** §6.1.2: who may enter may read; outcasts never, members-only rooms their members only. */
function mayRead(room: Room, bareJid: string): void {
  if (!room.config.archiving) {
    throw new StanzaError("cancel", "feature-not-implemented", {
      text: "This room keeps no archive",
    });
  }
  const affiliation = room.affiliationOf(bareJid);
  if (affiliation === "outcast") {
    throw new StanzaError("auth", "forbidden", { text: "You are banned from this room" });
  }
  if (room.config.membersOnly && !hasAffiliation(affiliation, "member")) {
    throw new StanzaError("auth", "registration-required", {
      text: "Only members may read this room's archive",
    });
  }
}
