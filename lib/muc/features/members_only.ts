// Members-only rooms. XEP-0045 §7.2.7 (entering: registration-required), §9.4 (revoking membership:
// status 321), §10.2 and §16.5.3 (muc#roomconfig_membersonly; switching it on removes non-members
// with status 322), §7.8.2 (an admin's invitation makes the invitee a member), §6.4 (muc_membersonly
// / muc_open).
import { StanzaError } from "../../stanza/stanza_error.ts";
import { type MucHooks, Priority } from "../hooks.ts";
import { hasAffiliation } from "../affiliation.ts";
import { parseBoolean } from "../config_form.ts";

const FIELD = "muc#roomconfig_membersonly";

/** Only members, admins and owners may enter. */
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

  // Without membership there is no place in the room: losing it removes the occupant (321).
  hooks.on("occupant-role", (event) => {
    if (event.room.config.membersOnly && !hasAffiliation(event.affiliation, "member")) {
      event.role = "none";
    }
  });

  hooks.on("config-changed", ({ room, changed }) => {
    if (!changed.includes("membersOnly") || !room.config.membersOnly) return;
    for (const occupant of [...room.occupants()]) {
      if (!hasAffiliation(occupant.affiliation, "member")) {
        room.removeOccupant(occupant, { statuses: [322] });
      }
    }
  });

  // As Prosody: whoever may invite into a members-only room makes the invitee a member.
  hooks.on("invite", ({ room, invitee, x }) => {
    if (!room.config.membersOnly) return;
    if (room.affiliationOf(invitee.bare) !== "none") return;
    const inviter = x.getChild("invite")?.attrs.from;
    room.changeAffiliation(invitee.bare, "member", { reason: `Invited by ${inviter}` });
  });
}
