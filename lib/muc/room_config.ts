// Room options. XEP-0045 §10.2 (muc#roomconfig), §16.5.3 (the registered fields).
//
// One typed record of every option. Each feature in features/ owns its key(s): it declares the
// form field that reads and writes it and reacts to its value. The core reads only `persistent`
// (lifecycle), `public` (service disco#items), `whois` (who sees real JIDs), `name` (titles) and
// `presenceBroadcast` (whose presence is broadcast).

/** Who may see occupants' real JIDs (muc#roomconfig_whois). */
export type Whois = "moderators" | "anyone";

/** Who may send private messages (Prosody's muc#roomconfig_allowpm). */
export type AllowPm = "anyone" | "participants" | "moderators" | "none";

/** A role whose presence may be broadcast (muc#roomconfig_presencebroadcast). */
export type BroadcastRole = "moderator" | "participant" | "visitor";

/** Every room option. Values must survive JSON (they are stored as `StoredRoom.config`). */
export interface RoomConfig {
  /** muc#roomconfig_roomname. Empty: the room's localpart is shown. */
  name: string;
  /** muc#roomconfig_roomdesc. */
  description: string;
  /** muc#roomconfig_persistentroom: kept when empty, stored across restarts. */
  persistent: boolean;
  /** muc#roomconfig_publicroom: listed in the service's disco#items. */
  public: boolean;
  /**
   * From `hashSecret()`; null when the room has no password. Never the password itself. Stored as
   * `StoredRoom.passwordHash`, not inside `StoredRoom.config`.
   */
  passwordHash: string | null;
  /** muc#roomconfig_membersonly. */
  membersOnly: boolean;
  /** muc#roomconfig_moderatedroom: unaffiliated users enter as visitors. */
  moderated: boolean;
  /** muc#roomconfig_whois. */
  whois: Whois;
  /** muc#roomconfig_maxusers; null for no limit. */
  maxUsers: number | null;
  /** muc#roomconfig_changesubject: participants (not only moderators) may set the subject. */
  changeSubject: boolean;
  /** muc#roomconfig_historylength: messages kept and replayed on entering. */
  historyLength: number;
  /** muc#roomconfig_allowinvites: members (not only admins) may invite in members-only rooms. */
  allowInvites: boolean;
  /** muc#roomconfig_allowpm: who may send private messages to other occupants. */
  allowPm: AllowPm;
  /**
   * muc#roomconfig_presencebroadcast: roles whose presence others see. The core reads it (it
   * decides every presence broadcast); features/presence_broadcast.ts owns the field.
   */
  presenceBroadcast: BroadcastRole[];
  /**
   * muc#roomconfig_enablearchiving (Prosody's mod_muc_mam): what is said is archived (XEP-0313
   * for rooms), when the service has an archive.
   */
  archiving: boolean;
}

/** Options of a new room unless the service is configured otherwise (Prosody's defaults). */
export const DEFAULT_ROOM_CONFIG: Readonly<RoomConfig> = Object.freeze<RoomConfig>({
  name: "",
  description: "",
  persistent: false,
  public: true,
  passwordHash: null,
  membersOnly: false,
  moderated: false,
  whois: "moderators",
  maxUsers: null,
  changeSubject: false,
  historyLength: 20,
  allowInvites: false,
  allowPm: "anyone",
  presenceBroadcast: ["moderator", "participant", "visitor"],
  archiving: true,
});

const KEYS = Object.keys(DEFAULT_ROOM_CONFIG) as (keyof RoomConfig)[];

/** The option keys, in declaration order. */
export function configKeys(): readonly (keyof RoomConfig)[] {
  return KEYS;
}

/**
 * A room's options from what was stored: each known key whose stored value has the default's
 * JSON type is taken, anything else falls back to `defaults` (a corrupt or older row still loads).
 */
export function restoreConfig(
  stored: Record<string, unknown>,
  passwordHash: string | null,
  defaults: Readonly<RoomConfig> = DEFAULT_ROOM_CONFIG,
): RoomConfig {
  const config: RoomConfig = { ...defaults, passwordHash };
  const target = config as unknown as Record<string, unknown>;
  for (const key of KEYS) {
    if (key === "passwordHash" || !(key in stored)) continue;
    const value = stored[key];
    if (key === "maxUsers") {
      if (value === null || (Number.isInteger(value) && (value as number) > 0)) {
        target[key] = value;
      }
    } else if (key === "whois") {
      if (value === "moderators" || value === "anyone") config.whois = value;
    } else if (key === "allowPm") {
      if (["anyone", "participants", "moderators", "none"].includes(value as string)) {
        config.allowPm = value as AllowPm;
      }
    } else if (key === "presenceBroadcast") {
      if (Array.isArray(value)) {
        config.presenceBroadcast = value.filter((role): role is BroadcastRole =>
          role === "moderator" || role === "participant" || role === "visitor"
        );
      }
    } else if (typeof value === typeof defaults[key]) {
      target[key] = value;
    }
  }
  return config;
}

/** The JSON object to store as `StoredRoom.config`: every option except the password hash. */
export function storableConfig(config: Readonly<RoomConfig>): Record<string, unknown> {
  const { passwordHash: _hash, ...rest } = config;
  return rest;
}

/** True when two option values are the same (options are JSON values). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
