// Room name. XEP-0045 §10.2, §16.5.3 (muc#roomconfig_roomname); shown as the disco identity name
// (§6.4) and in the service's disco#items (§6.3), via Room.title.
import { type MucHooks } from "../hooks.ts";
import { singleValue } from "../config_form.ts";

const FIELD = "muc#roomconfig_roomname";

/** The room's human-readable name. */
export function nameFeature(hooks: MucHooks): void {
  hooks.field({
    var: FIELD,
    type: "text-single",
    label: "Title",
    get: (config) => config.name,
    set: (draft, values) => {
      draft.name = singleValue(FIELD, values).trim();
    },
  });
}
