// Room description. XEP-0045 §10.2, §16.5.3 (muc#roomconfig_roomdesc), §6.4 and §16.5.4
// (muc#roominfo_description in disco#info).
import { type MucHooks } from "../hooks.ts";
import { singleValue } from "../config_form.ts";

const FIELD = "muc#roomconfig_roomdesc";

/** A short description of the room. */
export function descriptionFeature(hooks: MucHooks): void {
  hooks.field({
    var: FIELD,
    type: "text-single",
    label: "Description",
    get: (config) => config.description,
    set: (draft, values) => {
      draft.description = singleValue(FIELD, values).trim();
    },
  });

  hooks.on("disco-info", ({ room, fields }) => {
    fields.push({
      var: "muc#roominfo_description",
      label: "Description",
      values: [room.config.description],
    });
  });
}
