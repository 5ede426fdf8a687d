// Room archives. XEP-0313 §3.3.2 (the archive on the room's bare JID), §3.5 (each archived
// message gets a XEP-0359 <stanza-id/> by the room; a client's own is removed, XEP-0359 §5), §4
// (queries, with the account archive's form and RSM paging: lib/mam), §7 (urn:xmpp:mam:2 in the
// room's disco#info), §6.1.2 (groupchat messages with a <body/>, each once, no private messages;
// only those who may enter may read: not outcasts, members in members-only rooms; results without
// 'to', from the sender's occupant JID), §8.4 (a client's muc#user <x/> removed). Prosody's
// mod_muc_mam option muc#roomconfig_enablearchiving turns it on and off (default on, as its
// muc_log_by_default); a room's archive goes with the room.
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
import { hasAffiliation } from "../affiliation.ts";
import { parseBoolean } from "../config_form.ts";
import type { MucFeature } from "../hooks.ts";
import type { Room } from "../room.ts";

const FIELD = "muc#roomconfig_enablearchiving";

/** What {@linkcode archiveFeature} needs: the rooms' archive (owners are room JIDs), page sizes. */
export interface ArchiveOptions extends PageLimits {
  store: ArchiveStore;
}

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

    hooks.on("groupchat-message", ({ room, occupant, message }) => {
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
      });
      message.children.push(el("stanza-id", { xmlns: NS.STANZA_ID, id, by: room.jid }));
    });

    hooks.on("room-destroyed", ({ room }) => store.clear(room.jid));

    hooks.iq("get", NS.MAM, "query", ({ room, origin, reply }) => {
      mayRead(room, origin.bare);
      reply(el("query", { xmlns: NS.MAM }, queryForm()));
    });

    hooks.iq("set", NS.MAM, "query", ({ room, origin, query: element, reply }) => {
      mayRead(room, origin.bare);
      const fin = runQuery(
        element,
        { store, owner: room.jid, limits: options },
        (item, queryid) =>
          room.send(resultMessage(item, { to: origin.full, from: room.jid, queryid }), origin.full),
      );
      reply(fin);
    });
  };
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
