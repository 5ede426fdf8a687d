// Bounds on what one user can make the MUC service do: entering rooms and creating them. Joins
// cost a presence broadcast to every occupant, and rooms cost memory (and, when persistent,
// storage), so each user's rate is bounded; past it, the request is refused with
// `resource-constraint` (RFC 6120 §8.3.3.18, type wait: try again later).
import { KeyedBuckets, type Rate } from "../net/token_bucket.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { type MucHooks, Priority } from "./hooks.ts";

/** Room entries per user (bare JID): a client joining its bookmarks at login fits the burst. */
export const JOINS_PER_USER: Rate = { perSecond: 5, burst: 50 };
/** New rooms per user. */
export const ROOM_CREATIONS_PER_USER: Rate = { perSecond: 10 / 60, burst: 10 };

/** Installs the per-user bounds on joins and room creation. */
export function floodLimitsFeature(hooks: MucHooks): void {
  const joins = new KeyedBuckets(JOINS_PER_USER);
  const creations = new KeyedBuckets(ROOM_CREATIONS_PER_USER);
  hooks.on("room-pre-create", ({ origin }) => {
    if (creations.tryTake(origin.bare)) return undefined;
    return new StanzaError("wait", "resource-constraint", {
      text: "You are creating rooms too fast: try again later",
    });
  }, Priority.VALIDATE);
  hooks.on("occupant-pre-join", ({ origin }) => {
    if (joins.tryTake(origin.bare)) return undefined;
    return new StanzaError("wait", "resource-constraint", {
      text: "You are entering rooms too fast: try again in a moment",
    });
  }, Priority.VALIDATE);
}
