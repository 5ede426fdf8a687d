// The MUC service: a component owning one domain (e.g. conference.localhost). XEP-0045 §6
// (discovery), §7 (occupants), §10.1 (creating rooms); RFC 6120 §8.2.3 (iq semantics), §8.3
// (errors); XEP-0199 (ping), XEP-0410 (self-ping to one's own occupant JID).
//
// It keeps the room registry, creates and removes rooms, routes each stanza to its room, and turns
// the StanzaErrors rooms and features throw into error replies (`by` = the room's bare JID, legacy
// codes on presence errors, never an error in answer to an error).
import { Element } from "../xml/element.ts";
import { type Jid, parseJid, prepDomain, prepLocal, tryParseJid } from "../jid/jid.ts";
import { NS } from "../stanza/ns.ts";
import { errorReply, reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import type { Component, Deliver } from "../router/component.ts";
import { iqPayload as singlePayload } from "../router/iq.ts";
import { type ReadForm, readFormOrBadRequest } from "../forms/data_form.ts";
import type { RoomStore } from "../storage/room_store.ts";
import { type MucFeature, MucHooks } from "./hooks.ts";
import { Room, type RoomContext } from "./room.ts";
import { handleMediatedMessage, inviteFeature } from "./invite.ts";
import { adminFeature } from "./admin.ts";
import { floodLimitsFeature } from "./flood_limits.ts";
import { prepNick } from "./_nick.ts";
import { mucItem, mucUserX } from "./_codec.ts";
import { DEFAULT_ROOM_CONFIG, type RoomConfig } from "./room_config.ts";
import { ownerFeature } from "./owner.ts";
import { roomDiscoFeature, serviceInfo, serviceItems } from "./disco.ts";
import { MUC_FEATURES } from "./features/mod.ts";

/** Options of {@linkcode createMucService}. */
export interface MucServiceOptions {
  /** The service's domain, e.g. `conference.localhost`. */
  domain: string;
  /** Where persistent rooms are kept; rooms of this domain are restored from it at creation. */
  store: RoomStore;
  /** The router's deliver. It must serialize the stanza before returning (see room.ts). */
  deliver: Deliver;
  /**
   * The router's fast path for fan-out: writes a serialized stanza to the local session bound to
   * `to` and returns true, or returns false (then `deliver` is used).
   */
  deliverXml?: (to: string, xml: string) => boolean;
  /** Bare JIDs with owner rights in every room. */
  admins?: string[];
  /** Where failures are reported (default: `console.error`). */
  log?: (line: string) => void;
  /** Options of new rooms, over {@linkcode DEFAULT_ROOM_CONFIG}. */
  roomDefaults?: Partial<RoomConfig>;
  /**
   * Room options to install (default: {@linkcode MUC_FEATURES}). The owner form, room disco and
   * ping are core and always installed.
   */
  features?: readonly MucFeature[];
  /** The secret features derive opaque ids from (XEP-0421 §4); random if absent. */
  secret?: Uint8Array;
}

// Attempts to enter a room that is removed while the entry checks run (a temporary room emptying).
const MAX_JOIN_ATTEMPTS = 3;

// How long the address of a destroyed persistent room answers "gone" (as Prosody: 31 days).
const TOMBSTONE_MS = 31 * 24 * 60 * 60 * 1000;

/** What is left of a destroyed persistent room: why, and where its occupants went. */
interface Tombstone {
  reason?: string;
  alternate?: string;
  until: number;
}

/** A Multi-User Chat service (XEP-0045). */
export class MucService implements Component {
  readonly domain: string;
  /** The hooks every feature registered on; for tests and extensions. */
  readonly hooks: MucHooks;
  readonly #store: RoomStore;
  readonly #deliver: Deliver;
  readonly #log: (line: string) => void;
  readonly #admins: Set<string>;
  readonly #defaults: RoomConfig;
  readonly #rooms = new Map<string, Room>();
  // Destroyed persistent rooms (kept in memory only: a restart forgets them).
  readonly #tombstones = new Map<string, Tombstone>();
  // Real full JID → rooms it is in: a session's end can be announced once, to the service domain.
  readonly #sessions = new Map<string, Set<Room>>();
  readonly #ctx: RoomContext;

  constructor(options: MucServiceOptions) {
    this.domain = prepDomain(options.domain);
    this.#store = options.store;
    this.#deliver = options.deliver;
    this.#log = options.log ?? ((line) => console.error(line));
    this.#admins = new Set((options.admins ?? []).map((jid) => parseJid(jid).bare));
    this.#defaults = { ...DEFAULT_ROOM_CONFIG, ...options.roomDefaults };
    this.hooks = new MucHooks({ log: this.#log, secret: options.secret });
    ownerFeature(this.hooks);
    adminFeature(this.hooks);
    inviteFeature(this.hooks);
    roomDiscoFeature(this.hooks);
    floodLimitsFeature(this.hooks);
    for (const feature of options.features ?? MUC_FEATURES) feature(this.hooks);
    this.#ctx = {
      hooks: this.hooks,
      deliver: this.#deliver,
      deliverXml: options.deliverXml,
      store: this.#store,
      isServiceAdmin: (bareJid) => this.#admins.has(bareJid),
      removed: (room) => this.#removed(room),
      sessionChanged: (room, fullJid, present) => this.#sessionChanged(room, fullJid, present),
    };
    const suffix = "@" + this.domain;
    for (const stored of this.#store.loadAll()) {
      if (!stored.jid.endsWith(suffix)) continue; // another MUC service's room in a shared store
      this.#rooms.set(stored.jid, Room.fromStored(stored, this.#ctx, this.#defaults));
    }
  }

  /** Number of rooms, persistent ones included. */
  roomCount(): number {
    return this.#rooms.size;
  }

  /** Number of occupants (nicknames) of all rooms together; a walk over the rooms. */
  occupantCount(): number {
    let count = 0;
    for (const room of this.#rooms.values()) count += room.occupantCount;
    return count;
  }

  /** A room by bare JID. */
  room(jid: string): Room | undefined {
    return this.#rooms.get(jid);
  }

  /**
   * Handles one stanza addressed to the service, a room or an occupant. Never throws: refusals
   * are answered here. Settles when every delivery caused by the stanza has been made.
   */
  async handle(stanza: Element): Promise<void> {
    try {
      await this.#route(stanza);
    } catch (error) {
      this.#answerError(stanza, error);
    }
  }

  async #route(stanza: Element): Promise<void> {
    const from = tryParseJid(stanza.attrs.from);
    if (from === null) {
      this.#log(`muc: dropped <${stanza.name}/> from unparsable "${stanza.attrs.from ?? ""}"`);
      return;
    }
    const { roomJid, nick } = this.#target(stanza.attrs.to);
    if (roomJid === null) return this.#toService(stanza, from);
    if (this.#tombstoned(stanza, from, roomJid)) return;
    switch (stanza.name) {
      case "presence":
        return await this.#presence(stanza, from, roomJid, nick);
      case "message":
        return await this.#message(stanza, from, roomJid, nick);
      case "iq":
        return await this.#iq(stanza, from, roomJid, nick);
    }
  }

  /**
   * XEP-0045 §10.9 moves a destroyed room's occupants to an alternate venue; RFC 6120 §8.3.3.5
   * gives its address the answer `gone`, with that venue as an XMPP URI and the reason as text (as
   * Prosody does for persistent rooms). A service admin's join recreates the room. True if the
   * stanza was answered.
   */
  #tombstoned(stanza: Element, from: Jid, roomJid: string): boolean {
    const tombstone = this.#tombstones.get(roomJid);
    if (tombstone === undefined) return false;
    const type = stanza.attrs.type;
    if (
      tombstone.until < Date.now() ||
      (stanza.name === "presence" && type === undefined && this.#admins.has(from.bare))
    ) {
      this.#tombstones.delete(roomJid);
      return false;
    }
    if (type === "error" || type === "result") return true;
    if (stanza.name === "presence" && type === "unavailable") return true;
    const answer = errorReply(
      stanza.name === "presence" ? new Element("presence", stanza.attrs) : stanza,
      new StanzaError("cancel", "gone", { text: tombstone.reason, by: this.domain }),
    );
    if (answer === undefined) return true;
    if (tombstone.alternate !== undefined) {
      answer.getChild("error")?.getChild("gone", NS.STANZA_ERRORS)
        ?.append(`xmpp:${tombstone.alternate}?join`);
    }
    this.#deliver(answer);
    return true;
  }

  /** Splits `to` into the prepared room JID and nickname; null room for the service itself. */
  #target(to: string | undefined): { roomJid: string | null; nick: string | null } {
    const address = to ?? this.domain;
    const slash = address.indexOf("/");
    const bare = slash === -1 ? address : address.slice(0, slash);
    const at = bare.indexOf("@");
    if (at === -1) return { roomJid: null, nick: null };
    let roomJid: string;
    try {
      roomJid = `${prepLocal(bare.slice(0, at))}@${this.domain}`;
    } catch (error) {
      throw new StanzaError("modify", "jid-malformed", { text: `Invalid room address: ${error}` });
    }
    if (slash === -1) return { roomJid, nick: null };
    try {
      return { roomJid, nick: prepNick(address.slice(slash + 1)) };
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new StanzaError("modify", "jid-malformed", { text: `Invalid nickname: ${why}` });
    }
  }

  async #presence(stanza: Element, from: Jid, roomJid: string, nick: string | null): Promise<void> {
    const type = stanza.attrs.type;
    const room = this.#rooms.get(roomJid);
    if (type === "unavailable") return room?.leave(from, stanza);
    // An error presence from an occupant's client means it is gone (as Prosody treats it).
    if (type === "error") return room?.kickForError(stanza, from);
    if (type === "probe" && nick !== null) {
      return this.#visibleRoom(roomJid, from).probe(from, nick);
    }
    if (type !== undefined) return; // subscriptions mean nothing to a room
    // COMPAT(Prosody): some clients send presence updates to the room's bare JID; an occupant's
    // counts as sent to its occupant JID.
    const occupant = nick === null ? room?.occupantBySession(from.full) : undefined;
    if (room !== undefined && occupant !== undefined) return room.updatePresence(stanza, from);
    if (nick === null) {
      throw new StanzaError("modify", "jid-malformed", {
        text: "A nickname is required to enter a room",
      });
    }
    const current = room?.occupantBySession(from.full);
    if (room !== undefined && current !== undefined) {
      if (current.nick !== nick) return await room.changeNick(stanza, from, nick);
      room.updatePresence(stanza, from);
      return;
    }
    // XEP-0045 §7.2.1 marks a join with <x xmlns=muc/>. §7.2.18 (groupchat 1.0): a presence
    // without it from a non-occupant is more likely a client that lost track of the room than an
    // old client entering, so it RECOMMENDS an explicit kick (110, 307, 333) over joining.
    if (stanza.getChild("x", NS.MUC) === undefined) {
      return this.#kickNonOccupant(from, roomJid, nick, room);
    }
    await this.#join(stanza, from, roomJid, nick);
  }

  /** §7.2.18: "You are not in the room", as an unavailable self-presence with 110, 307 and 333. */
  #kickNonOccupant(from: Jid, roomJid: string, nick: string, room: Room | undefined): void {
    const affiliation = room?.affiliationOf(from.bare) ?? "none";
    const item = mucItem(affiliation, "none", undefined, { reason: "You are not in the room." });
    this.#deliver(
      new Element("presence", { from: `${roomJid}/${nick}`, to: from.full, type: "unavailable" }, [
        mucUserX(item, [110, 307, 333]),
      ]),
    );
  }

  async #join(stanza: Element, from: Jid, roomJid: string, nick: string): Promise<void> {
    for (let attempt = 0; attempt < MAX_JOIN_ATTEMPTS; attempt++) {
      let room = this.#rooms.get(roomJid);
      let created = false;
      if (room === undefined) {
        const veto = await this.hooks.fireVeto("room-pre-create", {
          roomJid,
          stanza,
          origin: from,
        });
        if (veto !== undefined) throw veto;
        room = this.#rooms.get(roomJid);
        if (room === undefined) {
          room = this.#create(roomJid, from);
          created = true;
        }
      }
      try {
        if (await room.join(stanza, from, nick, created)) return;
      } catch (error) {
        if (created) room.removeIfUnused();
        throw error;
      }
    }
    throw new StanzaError("wait", "resource-constraint", {
      text: "The room changed while entering; try again",
    });
  }

  /** XEP-0045 §10.1.1: a new room, locked, with its creator as owner. */
  #create(roomJid: string, creator: Jid): Room {
    const room = new Room(roomJid, this.#ctx, { config: { ...this.#defaults }, locked: true });
    room.setAffiliation(creator.bare, "owner");
    this.#rooms.set(roomJid, room);
    this.hooks.fireNotify("room-created", { room });
    return room;
  }

  #message(
    stanza: Element,
    from: Jid,
    roomJid: string,
    nick: string | null,
  ): void | Promise<void> {
    const type = stanza.attrs.type ?? "normal";
    // As Prosody: an occupant whose client bounces messages is taken out (status 333).
    if (type === "error") return this.#rooms.get(roomJid)?.kickForError(stanza, from);
    const room = this.#visibleRoom(roomJid, from);
    if (nick === null) {
      if (type === "groupchat") return room.groupchat(stanza, from);
      const form = readFormMessage(stanza);
      const handler = form?.formType === undefined
        ? undefined
        : this.hooks.formMessageHandler(form.formType);
      if (form !== undefined && handler !== undefined) {
        const occupant = room.occupantBySession(from.full);
        return handler({ room, stanza, origin: from, occupant, form });
      }
      return handleMediatedMessage(room, stanza, from, this.hooks);
    }
    if (type === "groupchat") {
      throw new StanzaError("modify", "bad-request", {
        text: "A private message may not be of type groupchat",
      });
    }
    return room.privateMessage(stanza, from, nick);
  }

  async #iq(stanza: Element, from: Jid, roomJid: string, nick: string | null): Promise<void> {
    const type = stanza.attrs.type;
    if (type === "result" || type === "error") {
      if (nick !== null) this.#rooms.get(roomJid)?.forwardIqAnswer(stanza, from);
      return;
    }
    const query = iqPayload(stanza);
    const room = this.#visibleRoom(roomJid, from);
    if (nick !== null) return this.#iqToOccupant(stanza, from, room, nick, query);
    const handler = this.hooks.iqHandler(type!, query.attrs.xmlns ?? "", query.name);
    if (handler === undefined) throw new StanzaError("cancel", "service-unavailable");
    let replied = false;
    try {
      await handler({
        room,
        stanza,
        query,
        origin: from,
        reply: (payload) => {
          if (replied) return;
          replied = true;
          this.#deliver(reply(stanza, { from: room.jid }).append(payload));
        },
      });
    } catch (error) {
      if (!replied) throw error;
      // The result is out; an error now would be a second answer.
      this.#log(`muc: iq handler failed after replying to ${from.full} in ${room.jid}: ${error}`);
    }
    if (!replied) this.#deliver(reply(stanza, { from: room.jid }));
  }

  #iqToOccupant(stanza: Element, from: Jid, room: Room, nick: string, query: Element): void {
    if (query.is("ping", NS.PING) && stanza.attrs.type === "get") {
      // XEP-0410: a ping to one's own occupant JID tells whether one is still in the room.
      const self = room.occupantBySession(from.full);
      if (self === undefined) {
        throw new StanzaError("cancel", "not-acceptable", { text: "You are not in this room" });
      }
      if (self.nick === nick) {
        this.#deliver(reply(stanza));
        return;
      }
    }
    // XEP-0045 §7.5 (Prosody): other iqs go on to the occupant, from the sender's occupant JID.
    room.forwardIq(stanza, from, nick);
  }

  #toService(stanza: Element, from: Jid): void {
    const type = stanza.attrs.type;
    if (stanza.name === "presence") {
      // The router may announce a session's end once, to the service, instead of to each room.
      if (type === "unavailable") {
        for (const room of [...this.#sessions.get(from.full) ?? []]) room.leave(from, stanza);
      }
      return;
    }
    if (stanza.name === "message") {
      if (type !== "error") throw new StanzaError("cancel", "service-unavailable");
      return;
    }
    if (stanza.name !== "iq" || type === "result" || type === "error") return;
    const query = iqPayload(stanza);
    const xmlns = query.attrs.xmlns;
    if (type === "get" && query.name === "query" && query.attrs.node === undefined) {
      if (xmlns === NS.DISCO_INFO) return this.#deliver(reply(stanza).append(serviceInfo()));
      if (xmlns === NS.DISCO_ITEMS) {
        const listed = [...this.#rooms.values()].filter((room) =>
          room.config.public && !room.locked
        );
        return this.#deliver(reply(stanza).append(serviceItems(listed)));
      }
    }
    if (type === "get" && query.is("ping", NS.PING)) return this.#deliver(reply(stanza));
    throw new StanzaError("cancel", "service-unavailable");
  }

  /** The room, unless it does not exist or is locked and `from` is not its owner (§10.1.1). */
  #visibleRoom(roomJid: string, from: Jid): Room {
    const room = this.#rooms.get(roomJid);
    if (room === undefined || (room.locked && room.affiliationOf(from.bare) !== "owner")) {
      throw new StanzaError("cancel", "item-not-found");
    }
    return room;
  }

  #removed(room: Room): void {
    if (this.#rooms.get(room.jid) === room) this.#rooms.delete(room.jid);
    if (room.config.persistent) this.#store.remove(room.jid);
    const destruction = room.destruction;
    if (destruction !== undefined && room.config.persistent && !room.locked) {
      const now = Date.now();
      // Kept in order of expiry (each is re-inserted at the end), so only the expired ones at
      // the front are visited: destroying many rooms in a row stays linear.
      for (const [jid, { until }] of this.#tombstones) {
        if (until >= now) break;
        this.#tombstones.delete(jid);
      }
      this.#tombstones.delete(room.jid);
      this.#tombstones.set(room.jid, { ...destruction, until: now + TOMBSTONE_MS });
    }
    this.hooks.fireNotify("room-destroyed", { room });
  }

  #sessionChanged(room: Room, fullJid: string, present: boolean): void {
    let rooms = this.#sessions.get(fullJid);
    if (present) {
      if (rooms === undefined) this.#sessions.set(fullJid, rooms = new Set());
      rooms.add(room);
    } else if (rooms !== undefined) {
      rooms.delete(room);
      if (rooms.size === 0) this.#sessions.delete(fullJid);
    }
  }

  #answerError(stanza: Element, error: unknown): void {
    let failure: StanzaError;
    if (error instanceof StanzaError) {
      failure = error;
    } else {
      const detail = error instanceof Error ? error.stack ?? error.message : String(error);
      this.#log(
        `muc: <${stanza.name}/> from ${stanza.attrs.from ?? "?"} to ${
          stanza.attrs.to ?? "?"
        } failed: ${detail}`,
      );
      failure = new StanzaError("cancel", "internal-server-error");
    }
    const type = stanza.attrs.type;
    // Never answer an error, a result, or an unavailable presence (a session's end, fanned out).
    if (type === "error" || type === "result") return;
    if (stanza.name === "presence" && type === "unavailable") return;
    const isPresence = stanza.name === "presence";
    const withDefaults = new StanzaError(failure.type, failure.condition, {
      ...failure.options,
      by: failure.options.by ?? this.#errorBy(stanza.attrs.to),
      legacyCode: failure.options.legacyCode ?? isPresence,
    });
    // A refused join is not echoed back: its payload may hold the (wrong) room password.
    const source = isPresence ? new Element("presence", stanza.attrs) : stanza;
    // §7.2.5–§7.2.10 (Examples 26–31): a refused join's error keeps an empty <x xmlns=muc/>,
    // by which clients (slixmpp, Poezio) tell a join error from other presence errors.
    if (isPresence && stanza.getChild("x", NS.MUC)) {
      source.append(new Element("x", { xmlns: NS.MUC }));
    }
    const answer = errorReply(source, withDefaults);
    if (answer !== undefined) this.#deliver(answer);
  }

  /** The bare JID of the room a stanza was for (or the service), for the error's `by`. */
  #errorBy(to: string | undefined): string {
    const bare = (to ?? this.domain).split("/")[0];
    const at = bare.indexOf("@");
    if (at === -1) return this.domain;
    try {
      return `${prepLocal(bare.slice(0, at))}@${this.domain}`;
    } catch {
      return bare;
    }
  }
}

/**
 * Creates a MUC service for `options.domain`, restoring its persistent rooms from the store.
 *
 * @example
 * ```ts
 * const muc = createMucService({
 *   domain: "conference.localhost",
 *   store: new SqliteRoomStore(db),
 *   deliver: (stanza) => router.route(stanza),
 * });
 * router.addComponent(muc);
 * ```
 */
export function createMucService(options: MucServiceOptions): MucService {
  return new MucService(options);
}

/** The data form (XEP-0004) a message to a room carries, if any; bad-request if malformed. */
function readFormMessage(stanza: Element): ReadForm | undefined {
  const x = stanza.getChild("x", NS.DATA_FORMS);
  if (x === undefined) return undefined;
  return readFormOrBadRequest(x);
}

/** RFC 6120 §8.2.3: a get or set carries exactly one child. */
function iqPayload(stanza: Element): Element {
  const type = stanza.attrs.type;
  if (type !== "get" && type !== "set") {
    throw new StanzaError("modify", "bad-request", { text: `Unknown iq type "${type ?? ""}"` });
  }
  return singlePayload(stanza);
}
