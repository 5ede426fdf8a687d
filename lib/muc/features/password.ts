// Password-protected rooms. XEP-0045 §7.2.6 (entering), §10.2 and §16.5.3
// (muc#roomconfig_passwordprotectedroom, muc#roomconfig_roomsecret), §6.4 (muc_passwordprotected /
// muc_unsecured).
//
// Only a salted slow hash is kept (room.config.passwordHash); the form never shows the secret.
// Because of that, a client resubmitting the whole form sends back an empty secret: with
// passwordprotectedroom true, an empty secret keeps the current password; without that field, it
// removes the password (as Prosody does); passwordprotectedroom false always removes it.
//
// Mediated invitations carry the password (§7.8.2). Only its hash is stored, so the room keeps the
// secret in memory alone: from the owner's form, or from anyone who entered with it (after a
// restart, the first to enter teaches it again).
import { StanzaError } from "../../stanza/stanza_error.ts";
import { KeyedBuckets, type Rate } from "../../net/token_bucket.ts";
import { hashSecret, sameSecret, verifySecret } from "../../storage/secrets.ts";
import { type MucHooks, Priority } from "../hooks.ts";
import { badValue, parseBoolean, singleValue } from "../config_form.ts";
import { readMucJoin } from "../_codec.ts";
import type { Room } from "../room.ts";
import { el } from "../../xml/element.ts";

/**
 * Password checks (each a PBKDF2 run of tens of milliseconds) allowed per room and per user: a
 * wrong-password flood gets `resource-constraint` instead of the CPU. The secret learnt from a
 * correct entry is checked without PBKDF2, so members entering are not slowed.
 */
export const PASSWORD_CHECKS_PER_ROOM: Rate = { perSecond: 5, burst: 20 };
export const PASSWORD_CHECKS_PER_USER: Rate = { perSecond: 1, burst: 5 };

const PROTECTED = "muc#roomconfig_passwordprotectedroom";
const SECRET = "muc#roomconfig_roomsecret";

/** Room passwords: config fields, disco feature, the check on entering, and invitations. */
export function passwordFeature(hooks: MucHooks): void {
  // Plaintext secrets, in memory only: set by the form (pending until committed) or learnt on entry.
  const pending = new WeakMap<Room, string>();
  const known = new WeakMap<Room, string>();
  const checksByRoom = new KeyedBuckets(PASSWORD_CHECKS_PER_ROOM, 10_000);
  const checksByUser = new KeyedBuckets(PASSWORD_CHECKS_PER_USER, 100_000);

  hooks.field({
    var: PROTECTED,
    type: "boolean",
    label: "Password protected",
    get: (config) => config.passwordHash !== null,
    set: (draft, values, submission) => {
      const wanted = parseBoolean(PROTECTED, values);
      if (!wanted) draft.passwordHash = null;
      else if (draft.passwordHash === null && secretOf(submission) === "") {
        throw badValue(PROTECTED, `a password (${SECRET}) is required`);
      }
    },
  });

  hooks.field({
    var: SECRET,
    type: "text-private",
    label: "Password",
    get: () => null,
    set: async (draft, values, submission, room) => {
      const given = submission.get(PROTECTED);
      const protect = given === undefined ? undefined : parseBoolean(PROTECTED, given);
      if (protect === false) return; // the protected field already removed the password
      const secret = singleValue(SECRET, values);
      if (secret !== "") {
        draft.passwordHash = await hashSecret(secret);
        pending.set(room, secret);
      } else if (protect === undefined) draft.passwordHash = null;
    },
  });

  hooks.on("disco-info", ({ room, features }) => {
    features.add(room.config.passwordHash !== null ? "muc_passwordprotected" : "muc_unsecured");
  });

  hooks.on("occupant-pre-join", async ({ room, stanza, origin }) => {
    const hash = room.config.passwordHash;
    if (hash === null) return undefined;
    const given = readMucJoin(stanza)?.password;
    const learnt = known.get(room);
    if (given !== undefined && learnt !== undefined && sameSecret(learnt, given)) return undefined;
    if (
      given !== undefined && (!checksByUser.tryTake(origin.bare) || !checksByRoom.tryTake(room.jid))
    ) {
      return new StanzaError("wait", "resource-constraint", {
        text: "Too many password attempts: try again in a moment",
      });
    }
    if (given === undefined || !await verifySecret(hash, given)) {
      return new StanzaError("auth", "not-authorized", {
        text: "A correct password is required to enter this room",
      });
    }
    if (room.config.passwordHash === hash) known.set(room, given);
    return undefined;
  }, Priority.ACCESS);

  hooks.on("config-changed", ({ room, changed }) => {
    if (!changed.includes("passwordHash")) return;
    const secret = pending.get(room);
    pending.delete(room);
    if (room.config.passwordHash !== null && secret !== undefined) known.set(room, secret);
    else known.delete(room);
  });

  hooks.on("invite", ({ room, x }) => {
    const secret = known.get(room);
    if (room.config.passwordHash !== null && secret !== undefined) {
      x.append(el("password", {}, secret));
    }
  });
}

function secretOf(submission: ReadonlyMap<string, readonly string[]>): string {
  return submission.get(SECRET)?.[0] ?? "";
}
