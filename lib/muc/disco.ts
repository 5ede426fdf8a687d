// Discovery. XEP-0045 §6.1-6.3 (the service), §6.4 (room info with muc#roominfo), §6.5 (room
// items), §7.12 (reserved nickname: node x-roomuser-item); XEP-0030; XEP-0199 (ping to a room).
import { el, type Element } from "../xml/element.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { buildForm, type FormField } from "../forms/data_form.ts";
import type { MucHooks } from "./hooks.ts";
import type { Room } from "./room.ts";

/** The service's name in disco#info. */
export const SERVICE_NAME = "Chatrooms";

/** disco#info of the service domain (§6.1). */
export function serviceInfo(): Element {
  return el(
    "query",
    { xmlns: NS.DISCO_INFO },
    el("identity", { category: "conference", type: "text", name: SERVICE_NAME }),
    el("feature", { var: NS.MUC }),
    el("feature", { var: NS.DISCO_INFO }),
    el("feature", { var: NS.DISCO_ITEMS }),
  );
}

/** disco#items of the service domain (§6.3): the given (public, unlocked) rooms with names. */
export function serviceItems(rooms: Iterable<Room>): Element {
  const query = el("query", { xmlns: NS.DISCO_ITEMS });
  for (const room of rooms) query.append(el("item", { jid: room.jid, name: room.title }));
  return query;
}

/** Room disco#info, disco#items and ping. Core: always installed. */
export function roomDiscoFeature(hooks: MucHooks): void {
  hooks.iq("get", NS.DISCO_INFO, "query", ({ room, origin, query, reply }) => {
    if (query.attrs.node === "x-roomuser-item") {
      // §7.12: the requester's reserved nickname, if any (see features/register.ts).
      const nick = room.affiliationRecord(origin.bare)?.nick;
      reply(el(
        "query",
        { xmlns: NS.DISCO_INFO, node: "x-roomuser-item" },
        nick !== undefined && el("identity", { category: "conference", type: "text", name: nick }),
      ));
      return;
    }
    if (query.attrs.node !== undefined) throw new StanzaError("cancel", "item-not-found");
    // muc#stable_id: the room keeps the ids of the messages it passes on; self-ping-optimization:
    // a ping to one's own occupant JID is answered by the room (XEP-0410 §3), as service.ts does.
    const features = new Set<string>([
      NS.MUC,
      `${NS.MUC}#stable_id`,
      `${NS.MUC}#self-ping-optimization`,
    ]);
    const fields: FormField[] = [];
    hooks.fireContribute("disco-info", { room, origin, features, fields });
    const info = buildForm({
      type: "result",
      formType: NS.MUC_ROOMINFO,
      fields: [
        {
          var: "muc#roominfo_occupants",
          label: "Number of occupants",
          values: [String(room.occupantCount)],
        },
        ...fields,
      ],
    });
    reply(el(
      "query",
      { xmlns: NS.DISCO_INFO },
      el("identity", { category: "conference", type: "text", name: room.title }),
      ...[...features].map((feature) => el("feature", { var: feature })),
      info,
    ));
  });

  // §6.5 lets a room list its occupants; it need not, and listing them would defeat anonymity.
  hooks.iq("get", NS.DISCO_ITEMS, "query", ({ query, reply }) => {
    if (query.attrs.node !== undefined) throw new StanzaError("cancel", "item-not-found");
    reply(el("query", { xmlns: NS.DISCO_ITEMS }));
  });

  hooks.iq("get", NS.PING, "ping", ({ reply }) => reply());
}
