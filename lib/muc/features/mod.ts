// The room options of the MUC service, one feature per file. The order of this list is the order
// of the owner's configuration form; occupant-id, which has no option, comes last. (The list lives here rather than in ../mod.ts so that
// service.ts can use it as its default without an import cycle.)
import type { MucFeature } from "../hooks.ts";
import { nameFeature } from "./name.ts";
import { descriptionFeature } from "./description.ts";
import { persistentFeature } from "./persistent.ts";
import { publicFeature } from "./public.ts";
import { subjectFeature } from "./subject.ts";
import { passwordFeature } from "./password.ts";
import { membersOnlyFeature } from "./members_only.ts";
import { moderatedFeature } from "./moderated.ts";
import { whoisFeature } from "./whois.ts";
import { maxUsersFeature } from "./max_users.ts";
import { historyFeature } from "./history.ts";
import { invitesFeature } from "./invites.ts";
import { allowPmFeature } from "./allow_pm.ts";
import { presenceBroadcastFeature } from "./presence_broadcast.ts";
import { registerFeature } from "./register.ts";
import { voiceRequestFeature } from "./voice_request.ts";
import { occupantIdFeature } from "./occupant_id.ts";

/** Every room option, in form order, then occupant-id. */
export const MUC_FEATURES: readonly MucFeature[] = [
  nameFeature,
  descriptionFeature,
  persistentFeature,
  publicFeature,
  subjectFeature,
  passwordFeature,
  membersOnlyFeature,
  moderatedFeature,
  whoisFeature,
  maxUsersFeature,
  historyFeature,
  invitesFeature,
  allowPmFeature,
  presenceBroadcastFeature,
  registerFeature,
  voiceRequestFeature,
  occupantIdFeature,
];

export {
  allowPmFeature,
  descriptionFeature,
  historyFeature,
  invitesFeature,
  maxUsersFeature,
  membersOnlyFeature,
  moderatedFeature,
  nameFeature,
  occupantIdFeature,
  passwordFeature,
  persistentFeature,
  presenceBroadcastFeature,
  publicFeature,
  registerFeature,
  subjectFeature,
  voiceRequestFeature,
  whoisFeature,
};
