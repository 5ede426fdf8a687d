// Persistent rooms. XEP-0045 §10.2, §16.5.3 (muc#roomconfig_persistentroom), §6.4
// (muc_persistent / muc_temporary). The lifecycle itself (kept when empty, stored) is the core's:
// see Room.removeIfUnused() and Room.save().
import { type MucHooks } from "../hooks.ts";
import { parseBoolean } from "../config_form.ts";

const FIELD = "muc#roomconfig_persistentroom";

/** Whether the room outlives its last occupant and a restart. */
export function persistentFeature(hooks: MucHooks): void {
  hooks.field({
    var: FIELD,
    type: "boolean",
    label: "Persistent (kept when empty)",
    get: (config) => config.persistent,
    set: (draft, values) => {
      draft.persistent = parseBoolean(FIELD, values);
    },
  });

  hooks.on("disco-info", ({ room, features }) => {
    features.add(room.config.persistent ? "muc_persistent" : "muc_temporary");
  });
}
