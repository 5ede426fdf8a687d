// Moderated rooms. XEP-0045 §5.1.2 (visitors), §10.2 and §16.5.3 (muc#roomconfig_moderatedroom),
// §6.4 (muc_moderated / muc_unmoderated). Visitors may not speak: Room.groupchat() refuses any role
// below participant; visitors may ask for voice (voice_request.ts).
import { type MucHooks } from "../hooks.ts";
import { parseBoolean } from "../config_form.ts";

const FIELD = "muc#roomconfig_moderatedroom";

/** In a moderated room, unaffiliated users enter as visitors. */
export function moderatedFeature(hooks: MucHooks): void {
  hooks.field({
    var: FIELD,
    type: "boolean",
    label: "Moderated (only participants may speak)",
    get: (config) => config.moderated,
    set: (draft, values) => {
      draft.moderated = parseBoolean(FIELD, values);
    },
  });

  hooks.on("disco-info", ({ room, features }) => {
    features.add(room.config.moderated ? "muc_moderated" : "muc_unmoderated");
  });

  hooks.on("occupant-role", (event) => {
    if (
      event.room.config.moderated && event.affiliation === "none" && event.role === "participant"
    ) {
      event.role = "visitor";
    }
  });
}
