// Public rooms. XEP-0045 §10.2, §16.5.3 (muc#roomconfig_publicroom), §6.3 (listed in the service's
// disco#items: the service reads `config.public`), §6.4 (muc_public / muc_hidden).
import { type MucHooks } from "../hooks.ts";
import { parseBoolean } from "../config_form.ts";

const FIELD = "muc#roomconfig_publicroom";

/** Whether the room is listed in the service's disco#items. */
export function publicFeature(hooks: MucHooks): void {
  hooks.field({
    var: FIELD,
    type: "boolean",
    label: "Public (listed in the room directory)",
    get: (config) => config.public,
    set: (draft, values) => {
      draft.public = parseBoolean(FIELD, values);
    },
  });

  hooks.on("disco-info", ({ room, features }) => {
    features.add(room.config.public ? "muc_public" : "muc_hidden");
  });
}
