// Private messages between occupants. XEP-0045 §7.5; Prosody's muc#roomconfig_allowpm (anyone,
// participants, moderators, none). As in Prosody, messages to a moderator and to oneself always
// pass; refused ones get policy-violation.
import { StanzaError } from "../../stanza/stanza_error.ts";
import { type MucHooks, Priority } from "../hooks.ts";
import { hasRole } from "../affiliation.ts";
import { parseChoice } from "../config_form.ts";
import type { AllowPm } from "../room_config.ts";

const FIELD = "muc#roomconfig_allowpm";
const CHOICES: readonly AllowPm[] = ["anyone", "participants", "moderators", "none"];

/** Who may send private messages to other occupants. */
export function allowPmFeature(hooks: MucHooks): void {
  hooks.field({
    var: FIELD,
    type: "list-single",
    label: "Allow private messages from",
    options: [
      { value: "anyone", label: "Everyone" },
      { value: "participants", label: "Participants" },
      { value: "moderators", label: "Moderators" },
      { value: "none", label: "No one" },
    ],
    get: (config) => config.allowPm,
    set: (draft, values) => {
      draft.allowPm = parseChoice(FIELD, values, CHOICES);
    },
  });

  hooks.on("private-message", ({ room, sender, target }) => {
    const allow = room.config.allowPm;
    if (allow === "anyone" || target === sender || target.role === "moderator") return undefined;
    if (allow === "participants" && hasRole(sender.role, "participant")) return undefined;
    if (allow === "moderators" && sender.role === "moderator") return undefined;
    return new StanzaError("cancel", "policy-violation", {
      text: "Private messages are disabled in this room",
    });
  }, Priority.ACCESS);
}
