// Whose presence is broadcast. XEP-0045 §10.2 and §16.5.3 (muc#roomconfig_presencebroadcast).
// The core applies it (Room.broadcasts()): an occupant whose role is not listed still gets its
// own presence, but others do not see it.
import { type MucHooks } from "../hooks.ts";
import { badValue } from "../config_form.ts";
import type { BroadcastRole } from "../room_config.ts";

const FIELD = "muc#roomconfig_presencebroadcast";
const ROLES: readonly BroadcastRole[] = ["moderator", "participant", "visitor"];

/** The roles whose presence others see. */
export function presenceBroadcastFeature(hooks: MucHooks): void {
  hooks.field({
    var: FIELD,
    type: "list-multi",
    label: "Roles whose presence is broadcast",
    options: [
      { value: "moderator", label: "Moderator" },
      { value: "participant", label: "Participant" },
      { value: "visitor", label: "Visitor" },
    ],
    get: (config) => config.presenceBroadcast,
    set: (draft, values) => {
      const roles: BroadcastRole[] = [];
      for (const value of values) {
        const role = ROLES.find((known) => known === value.trim());
        if (role === undefined) throw badValue(FIELD, `"${value}" is not a role`);
        if (!roles.includes(role)) roles.push(role);
      }
      // Stored in a fixed order, so that the same set compares equal.
      draft.presenceBroadcast = ROLES.filter((role) => roles.includes(role));
    },
  });
}
