// Occupant limit. XEP-0045 §7.2.10 (room full: service-unavailable), §10.2 and §16.5.3
// (muc#roomconfig_maxusers). Owners and admins may still enter a full room.
import { StanzaError } from "../../stanza/stanza_error.ts";
import { type MucHooks, Priority } from "../hooks.ts";
import { hasAffiliation } from "../affiliation.ts";
import { badValue, singleValue } from "../config_form.ts";

const FIELD = "muc#roomconfig_maxusers";
const MAX = 100_000;

/** At most `maxUsers` occupants; "none" (or empty) for no limit. */
export function maxUsersFeature(hooks: MucHooks): void {
  hooks.field({
    var: FIELD,
    type: "list-single",
    label: "Maximum number of occupants",
    options: ["10", "20", "30", "50", "100", "none"].map((value) => ({ value })),
    get: (config) => config.maxUsers === null ? "none" : config.maxUsers,
    set: (draft, values) => {
      const value = singleValue(FIELD, values).trim();
      if (value === "none" || value === "" || value === "0") {
        draft.maxUsers = null;
      } else if (/^[0-9]{1,9}$/.test(value) && Number(value) <= MAX) {
        draft.maxUsers = Number(value);
      } else {
        throw badValue(FIELD, `"${value}" is not a number from 1 to ${MAX} or "none"`);
      }
    },
  });

  hooks.on("occupant-pre-join", ({ room, origin, nick, affiliation }) => {
    const max = room.config.maxUsers;
    if (max === null || room.occupantCount < max || hasAffiliation(affiliation, "admin")) return;
    if (room.occupant(nick)?.bareJid === origin.bare) return; // another session of an occupant
    return new StanzaError("wait", "service-unavailable", { text: "This room is full" });
  }, Priority.DEFAULT);
}
