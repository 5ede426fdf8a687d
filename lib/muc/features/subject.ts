// Who may change the subject. XEP-0045 §8.1 (modifying the subject), §10.2, §16.5.3
// (muc#roomconfig_changesubject), §16.5.4 (muc#roominfo_subject in disco#info).
import { StanzaError } from "../../stanza/stanza_error.ts";
import { type MucHooks, Priority } from "../hooks.ts";
import { hasRole } from "../affiliation.ts";
import { parseBoolean } from "../config_form.ts";

const FIELD = "muc#roomconfig_changesubject";

/** Moderators may always change the subject; participants only if the room allows it. */
export function subjectFeature(hooks: MucHooks): void {
  hooks.field({
    var: FIELD,
    type: "boolean",
    label: "Allow occupants to change the subject",
    get: (config) => config.changeSubject,
    set: (draft, values) => {
      draft.changeSubject = parseBoolean(FIELD, values);
    },
  });

  hooks.on("subject-pre-change", ({ room, occupant }) => {
    if (occupant.role === "moderator") return;
    if (room.config.changeSubject && hasRole(occupant.role, "participant")) return;
    return new StanzaError("auth", "forbidden", {
      text: "Only moderators may change the subject in this room",
    });
  }, Priority.ACCESS);

  hooks.on("disco-info", ({ room, fields }) => {
    fields.push({ var: "muc#roominfo_subject", label: "Subject", values: [room.subject ?? ""] });
  });
}
