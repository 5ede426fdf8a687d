// Who may invite. XEP-0045 §7.8.2 (mediated invitations), §10.2 and §16.5.3
// (muc#roomconfig_allowinvites). In a members-only room only admins and owners invite, unless the
// room lets members invite too (Prosody's rule); elsewhere any occupant with a voice may.
import { StanzaError } from "../../stanza/stanza_error.ts";
import { type MucHooks, Priority } from "../hooks.ts";
import { hasAffiliation } from "../affiliation.ts";
import { parseBoolean } from "../config_form.ts";

const FIELD = "muc#roomconfig_allowinvites";

/** Whether members may invite others into a members-only room. */
export function invitesFeature(hooks: MucHooks): void {
  hooks.field({
    var: FIELD,
    type: "boolean",
    label: "Allow members to invite new members",
    get: (config) => config.allowInvites,
    set: (draft, values) => {
      draft.allowInvites = parseBoolean(FIELD, values);
    },
  });

  hooks.on("pre-invite", ({ room, affiliation }) => {
    if (!room.config.membersOnly || hasAffiliation(affiliation, "admin")) return undefined;
    if (room.config.allowInvites && hasAffiliation(affiliation, "member")) return undefined;
    return new StanzaError("auth", "forbidden", {
      text: "Only admins may invite into this members-only room",
    });
  }, Priority.ACCESS);
}
