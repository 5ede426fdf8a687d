// Who sees real JIDs. XEP-0045 §4.2 (semi-anonymous / non-anonymous), §7.2.3-7.2.4 (status 100
// on entering a non-anonymous room), §10.2 and §16.5.3 (muc#roomconfig_whois), §6.4
// (muc_semianonymous / muc_nonanonymous), §10.2.1 (statuses 172 and 173). The room applies the rule (Room.canSeeRealJids()).
import { type MucHooks } from "../hooks.ts";
import { parseChoice } from "../config_form.ts";
import type { Whois } from "../room_config.ts";

const FIELD = "muc#roomconfig_whois";
const CHOICES: readonly Whois[] = ["moderators", "anyone"];

/** Real JIDs shown to moderators only (semi-anonymous, the default) or to anyone. */
export function whoisFeature(hooks: MucHooks): void {
  hooks.field({
    var: FIELD,
    type: "list-single",
    label: "Who may see occupants' real addresses",
    options: [{ value: "moderators", label: "Moderators only" }, {
      value: "anyone",
      label: "Anyone",
    }],
    get: (config) => config.whois,
    set: (draft, values) => {
      draft.whois = parseChoice(FIELD, values, CHOICES);
    },
  });

  hooks.on("disco-info", ({ room, features }) => {
    features.add(room.config.whois === "anyone" ? "muc_nonanonymous" : "muc_semianonymous");
  });

  hooks.on("self-presence", ({ room, kind, statuses }) => {
    if (kind === "join" && room.config.whois === "anyone") statuses.add(100);
  });

  // §10.2.1: occupants are told the room became non-anonymous (172) or semi-anonymous (173).
  hooks.on("config-status", ({ room, changed, statuses }) => {
    if (changed.includes("whois")) statuses.add(room.config.whois === "anyone" ? 172 : 173);
  });
}
