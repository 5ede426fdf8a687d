// Owner use cases over muc#owner. XEP-0045 §10.1 (creating: instant and reserved rooms, cancel),
// §10.2 (modifying the configuration, status 104 and the codes features add), §10.9 (destroying).
import { el } from "../xml/element.ts";
import { type Jid, tryParseJid } from "../jid/jid.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { readFormOrBadRequest } from "../forms/data_form.ts";
import type { MucHooks } from "./hooks.ts";
import type { Room } from "./room.ts";
import type { RoomConfig } from "./room_config.ts";
import { buildConfigForm, readConfigSubmission } from "./config_form.ts";

/** The configuration form: get it, submit it, or cancel it. Core: always installed. */
export function ownerFeature(hooks: MucHooks): void {
  hooks.iq("get", NS.MUC_OWNER, "query", ({ room, origin, reply }) => {
    requireOwner(room, origin);
    reply(el("query", { xmlns: NS.MUC_OWNER }, buildConfigForm(room, hooks.fields)));
  });

  hooks.iq("set", NS.MUC_OWNER, "query", async ({ room, origin, query, reply }) => {
    requireOwner(room, origin);
    const x = query.getChild("x", NS.DATA_FORMS);
    if (x === undefined) {
      const destroy = query.getChild("destroy");
      if (destroy !== undefined) {
        // §10.9: occupants learn why and where to go; the owner's result comes after.
        const alternate = destroy.attrs.jid === undefined
          ? undefined
          : tryParseJid(destroy.attrs.jid)?.full;
        if (destroy.attrs.jid !== undefined && alternate === undefined) {
          throw new StanzaError("modify", "jid-malformed", { text: "Invalid alternate venue" });
        }
        room.destroy({
          alternate,
          reason: destroy.getChildText("reason"),
          password: destroy.getChildText("password"),
        });
        return;
      }
      throw new StanzaError("modify", "bad-request", { text: "Expected a data form" });
    }
    const form = readFormOrBadRequest(x);
    if (form.type === "cancel") {
      // §10.1.3: cancelling the first configuration destroys the new room; later, it changes nothing.
      reply();
      if (room.locked) room.destroy();
      return;
    }
    if (form.type !== "submit") {
      throw new StanzaError("modify", "bad-request", {
        text: `Cannot apply a "${form.type}" form`,
      });
    }
    if (form.formType !== undefined && form.formType !== NS.MUC_ROOMCONFIG) {
      throw new StanzaError("modify", "bad-request", {
        text: `Expected FORM_TYPE ${NS.MUC_ROOMCONFIG}`,
      });
    }
    // An empty submission (an instant room, §10.1.2) yields an empty patch and just unlocks.
    const patch = await readConfigSubmission(room, hooks.fields, form.fields);
    if (room.removed) throw new StanzaError("cancel", "item-not-found", { text: "Room is gone" });
    const changed = room.updateConfig(patch);
    reply();
    // §10.2.1: a privacy-related change has its own code (172/173, added by its feature); 104 is
    // for "any other configuration change".
    const other = changed.some((key) => !PRIVACY_KEYS.includes(key));
    const statuses = new Set<number>(other ? [104] : []);
    hooks.fireContribute("config-status", { room, changed, statuses });
    // Consequences first (e.g. non-members removed with 322, §10.2): the codes go to those who stay.
    hooks.fireNotify("config-changed", { room, origin, changed });
    if (statuses.size > 0) room.broadcastStatus(...statuses);
    room.removeIfUnused(); // e.g. an empty room an admin just made temporary
  });
}

/** Options whose change is announced by a status code of its own instead of 104 (§10.2.1). */
const PRIVACY_KEYS: readonly (keyof RoomConfig)[] = ["whois"];

function requireOwner(room: Room, origin: Jid): void {
  if (room.affiliationOf(origin.bare) !== "owner") {
    throw new StanzaError("auth", "forbidden", { text: "Only owners may configure the room" });
  }
}
