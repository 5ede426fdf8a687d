// Members-only rooms. XEP-0045 §7.2.7 (entering), §10.2 and §16.5.3 (muc#roomconfig_membersonly),
// §6.4 (muc_membersonly / muc_open).
import { StanzaError } from "../../stanza/stanza_error.ts";
import { type MucHooks, Priority } from "../hooks.ts";
import { hasAffiliation } from "../affiliation.ts";
import { parseBoolean } from "../config_form.ts";

const FIELD = "muc#roomconfig_membersonly";

/** Only members, admins and owners may enter. TODO(#muc-admin): kick non-members on switching. */
export function membersOnlyFeature(hooks: MucHooks): void {
  hooks.field({
    var: FIELD,
    type: "boolean",
    label: "Only members may enter",
    get: (config) => config.membersOnly,
    set: (draft, values) => {
      draft.membersOnly = parseBoolean(FIELD, values);
    },
  });

  hooks.on("disco-info", ({ room, features }) => {
    features.add(room.config.membersOnly ? "muc_membersonly" : "muc_open");
  });

  hooks.on("occupant-pre-join", ({ room, affiliation }) => {
    if (room.config.membersOnly && !hasAffiliation(affiliation, "member")) {
      return new StanzaError("auth", "registration-required", {
        text: "Only members may enter this room",
      });
    }
    return undefined;
  }, Priority.ACCESS);
}
