// Moderator and admin use cases over muc#admin. XEP-0045 §8.2 (kick), §8.3-8.4 (grant and revoke
// voice), §8.5 (the voice list), §9.1-9.2 (ban, the ban list), §9.3-9.5 (membership and the member
// list), §9.6-9.8 (moderator privileges and the moderator list), §10.3-10.8 (owner and admin
// privileges and lists). Who may do what follows §5 and, where the XEP leaves a choice, Prosody.
import { el, type Element } from "../xml/element.ts";
import { type Jid, tryParseJid } from "../jid/jid.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { type Affiliation, AFFILIATION_RANK, type Role } from "./affiliation.ts";
import type { MucHooks } from "./hooks.ts";
import type { Occupant } from "./occupant.ts";
import type { Room } from "./room.ts";

const AFFILIATIONS: readonly string[] = ["owner", "admin", "member", "none", "outcast"];
const ROLES: readonly string[] = ["moderator", "participant", "visitor", "none"];

/** A change asked for by one `<item/>`, checked and ready to apply. */
type Change =
  | { kind: "role"; occupant: Occupant; role: Role; reason?: string }
  | { kind: "affiliation"; jid: string; affiliation: Affiliation; reason?: string; nick?: string };

/** The admin iq: lists (get) and changes (set). Core: always installed. */
export function adminFeature(hooks: MucHooks): void {
  hooks.iq("get", NS.MUC_ADMIN, "query", ({ room, origin, query, reply }) => {
    const items = query.getChildren("item");
    if (items.length !== 1) {
      throw new StanzaError("modify", "bad-request", { text: "Ask for exactly one list" });
    }
    reply(el("query", { xmlns: NS.MUC_ADMIN }, ...list(room, origin, items[0])));
  });

  hooks.iq("set", NS.MUC_ADMIN, "query", ({ room, origin, query }) => {
    const items = query.getChildren("item");
    if (items.length === 0) throw new StanzaError("modify", "bad-request", { text: "No <item/>" });
    // Every item is checked before any is applied, so a refused request changes nothing.
    const changes = items.map((item) => check(room, origin, item));
    const actor = room.occupantBySession(origin.full)?.nick;
    // The actor's real JID goes only to those who may see real JIDs (room.ts decides).
    const actorJid = actor === undefined ? undefined : origin.full;
    for (const change of changes) {
      if (change.kind === "role") {
        if (room.occupant(change.occupant.nick) !== change.occupant) continue; // already gone
        room.changeRole(change.occupant, change.role, { actor, actorJid, reason: change.reason });
      } else if (room.affiliationRecord(change.jid)?.affiliation !== change.affiliation) {
        room.changeAffiliation(change.jid, change.affiliation, {
          actor,
          actorJid,
          reason: change.reason,
          nick: change.nick,
        });
      }
    }
  });
}

/** §8.5, §9.2, §9.5, §9.8, §10.5, §10.8: the list one `<item/>` asks for. */
function list(room: Room, origin: Jid, item: Element): Element[] {
  const { affiliation, role } = item.attrs;
  const mine = room.affiliationOf(origin.bare);
  if (affiliation !== undefined && role === undefined) {
    if (!AFFILIATIONS.includes(affiliation) || affiliation === "none") {
      throw new StanzaError("modify", "bad-request", { text: `No list "${affiliation}"` });
    }
    const rank = AFFILIATION_RANK[mine];
    const allowed = (rank >= AFFILIATION_RANK.admin &&
      rank >= AFFILIATION_RANK[affiliation as Affiliation]) ||
      (room.config.membersOnly && room.config.whois === "anyone" &&
        rank >= AFFILIATION_RANK.member);
    if (!allowed) {
      throw new StanzaError("auth", "forbidden", { text: "You may not see this list" });
    }
    const out: Element[] = [];
    for (const [jid, record] of room.affiliations()) {
      if (record.affiliation !== affiliation) continue;
      out.push(el(
        "item",
        { affiliation, jid, nick: record.nick },
        affiliation === "outcast" && record.reason !== undefined &&
          el("reason", {}, record.reason),
      ));
    }
    return out;
  }
  if (role !== undefined && affiliation === undefined) {
    if (!ROLES.includes(role) || role === "none") {
      throw new StanzaError("modify", "bad-request", { text: `No list "${role}"` });
    }
    if (room.occupantBySession(origin.full)?.role !== "moderator") {
      throw new StanzaError("auth", "forbidden", { text: "Only moderators may see this list" });
    }
    const out: Element[] = [];
    for (const occupant of room.occupants()) {
      if (occupant.role !== role) continue;
      out.push(el("item", {
        affiliation: occupant.affiliation,
        jid: occupant.realJid,
        nick: occupant.nick,
        role,
      }));
    }
    return out;
  }
  throw new StanzaError("modify", "bad-request", {
    text: "An <item/> must name either an affiliation or a role",
  });
}

/** Validates one `<item/>` of a set and checks the requester may make that change. */
function check(room: Room, origin: Jid, item: Element): Change {
  const { affiliation, role, nick, jid } = item.attrs;
  const reason = item.getChildText("reason");
  if (role !== undefined && affiliation === undefined) {
    if (!ROLES.includes(role)) throw new StanzaError("modify", "bad-request", { text: "Bad role" });
    if (nick === undefined) {
      throw new StanzaError("modify", "bad-request", { text: "A role change needs a nick" });
    }
    const occupant = room.occupant(nick);
    if (occupant === undefined) {
      throw new StanzaError("cancel", "item-not-found", { text: "No occupant has that nickname" });
    }
    checkRole(room, origin, occupant, role as Role);
    return { kind: "role", occupant, role: role as Role, reason };
  }
  if (affiliation !== undefined && role === undefined) {
    if (!AFFILIATIONS.includes(affiliation)) {
      throw new StanzaError("modify", "bad-request", { text: "Bad affiliation" });
    }
    let target: string | undefined;
    if (jid !== undefined) {
      target = tryParseJid(jid)?.bare;
      if (target === undefined) throw new StanzaError("modify", "jid-malformed");
    } else if (nick !== undefined) {
      target = room.occupant(nick)?.bareJid;
      if (target === undefined) {
        throw new StanzaError("cancel", "item-not-found", {
          text: "No occupant has that nickname",
        });
      }
    } else {
      throw new StanzaError("modify", "bad-request", { text: "An affiliation change needs a jid" });
    }
    checkAffiliation(room, origin, target, affiliation as Affiliation);
    return {
      kind: "affiliation",
      jid: target,
      affiliation: affiliation as Affiliation,
      reason,
      nick: jid !== undefined ? nick : undefined,
    };
  }
  throw new StanzaError("modify", "bad-request", {
    text: "An <item/> must change either an affiliation or a role",
  });
}

/** §5.1.1 and Prosody's room:set_role checks. */
function checkRole(room: Room, origin: Jid, target: Occupant, role: Role): void {
  const notAllowed = (text: string) => new StanzaError("cancel", "not-allowed", { text });
  const actor = room.occupantBySession(origin.full);
  if (actor === undefined || actor.role !== "moderator") {
    throw notAllowed("Only moderators may change roles");
  }
  // §8.2: nobody acts on an occupant of higher affiliation (a member on an admin, an admin on an
  // owner); equals may, as may an owner on itself (kicking oneself is allowed, as in Prosody).
  const mine = room.affiliationOf(origin.bare);
  if (AFFILIATION_RANK[mine] < AFFILIATION_RANK[room.affiliationOf(target.bareJid)]) {
    throw notAllowed("You may not change the role of someone with a higher affiliation");
  }
  if (target.role === "moderator" || role === "moderator") {
    if (mine !== "owner" && mine !== "admin") {
      throw notAllowed("Only owners and admins may grant or revoke moderator status");
    }
  }
}

/** §5.2.1 and Prosody's room:set_affiliation checks. */
function checkAffiliation(room: Room, origin: Jid, target: string, affiliation: Affiliation): void {
  const notAllowed = (text: string) => new StanzaError("cancel", "not-allowed", { text });
  const mine = room.affiliationOf(origin.bare);
  const theirs = room.affiliationRecord(target)?.affiliation ?? "none";
  if (theirs === affiliation) return;
  if (mine !== "owner") {
    if (mine !== "admin") throw notAllowed("Only owners and admins may change affiliations");
    if (affiliation === "owner" || affiliation === "admin") {
      throw notAllowed("Only owners may grant owner or admin status");
    }
    if (theirs === "owner" || theirs === "admin") {
      throw notAllowed("Only owners may change the affiliation of owners and admins");
    }
  } else if (theirs === "owner" && target === origin.bare) {
    const others = [...room.affiliations()].some(([jid, record]) =>
      jid !== target && record.affiliation === "owner"
    );
    if (!others) {
      throw new StanzaError("cancel", "conflict", { text: "A room must keep at least one owner" });
    }
  }
}
