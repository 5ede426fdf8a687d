// A room: occupants, affiliations, broadcast. XEP-0045 §7 (occupant use cases), §8.1 (subject),
// §10.1 (creation and locking), §10.9 (destruction).
//
// The room knows no room option beyond those RoomConfig documents as core; everything else comes
// through MucHooks. It throws StanzaError for requests it refuses; the service answers them.
//
// Delivery contract: `deliver` (the router's) serializes the stanza before it returns and keeps no
// reference to it. Broadcasts therefore build one Element and change only `attrs.to` between
// calls; payload children are shared, never mutated.
import { type Attrs, el, Element, type XmlNode } from "../xml/element.ts";
import type { Jid } from "../jid/jid.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import type { Deliver } from "../router/component.ts";
import type { RoomStore, StoredAffiliation, StoredRoom } from "../storage/room_store.ts";
import { type Affiliation, defaultRole, hasRole, type Role } from "./affiliation.ts";
import type { MucHooks } from "./hooks.ts";
import { Occupant } from "./occupant.ts";
import {
  configKeys,
  restoreConfig,
  type RoomConfig,
  sameValue,
  storableConfig,
} from "./room_config.ts";
import { mucItem, mucUserX, presencePayload, readMucJoin } from "./_codec.ts";

/** A stored affiliation of one bare JID ("none" is never stored). */
export interface AffiliationRecord {
  affiliation: Exclude<Affiliation, "none">;
  /** Reserved nickname (XEP-0045 §7.12). */
  nick?: string;
  reason?: string;
}

/** What a room needs from its service. */
export interface RoomContext {
  readonly hooks: MucHooks;
  /** The router's deliver; see the delivery contract at the top of this file. */
  readonly deliver: Deliver;
  readonly store: RoomStore;
  /** Service admins have owner rights in every room. */
  isServiceAdmin(bareJid: string): boolean;
  /** The room is gone (emptied while temporary, or destroyed): unregister it. Called once. */
  removed(room: Room): void;
  /** A real full JID entered (`present`) or left the room. */
  sessionChanged(room: Room, fullJid: string, present: boolean): void;
}

/** How a room starts. */
export interface RoomInit {
  config: RoomConfig;
  /** A new room is locked until its owner submits the configuration form (XEP-0045 §10.1.1). */
  locked?: boolean;
  subject?: string | null;
  subjectFrom?: string | null;
  affiliations?: Iterable<StoredAffiliation>;
}

/** One chat room. */
export class Room {
  /** Bare room JID. */
  readonly jid: string;
  readonly localpart: string;
  readonly #ctx: RoomContext;
  #config: RoomConfig;
  #locked: boolean;
  #removed = false;
  #subject: string | null;
  #subjectFrom: string | null;
  readonly #affiliations = new Map<string, AffiliationRecord>();
  readonly #byNick = new Map<string, Occupant>();
  // Every session of every occupant: the broadcast loop runs over this map alone.
  readonly #bySession = new Map<string, Occupant>();

  constructor(jid: string, ctx: RoomContext, init: RoomInit) {
    this.jid = jid;
    this.localpart = jid.slice(0, jid.indexOf("@"));
    this.#ctx = ctx;
    this.#config = { ...init.config };
    this.#locked = init.locked ?? false;
    this.#subject = init.subject ?? null;
    this.#subjectFrom = init.subjectFrom ?? null;
    for (const { jid, affiliation, nick, reason } of init.affiliations ?? []) {
      const record: AffiliationRecord = { affiliation };
      if (nick !== undefined) record.nick = nick;
      if (reason !== undefined) record.reason = reason;
      this.#affiliations.set(jid, record);
    }
  }

  /** A persistent room as stored: unlocked, empty. */
  static fromStored(stored: StoredRoom, ctx: RoomContext, defaults: Readonly<RoomConfig>): Room {
    return new Room(stored.jid, ctx, {
      config: restoreConfig(stored.config, stored.passwordHash, defaults),
      subject: stored.subject,
      subjectFrom: stored.subjectFrom,
      affiliations: stored.affiliations,
    });
  }

  /** The room's options; change them with {@linkcode Room.updateConfig}. */
  get config(): Readonly<RoomConfig> {
    return this.#config;
  }

  /** True until the owner first submits the configuration form. */
  get locked(): boolean {
    return this.#locked;
  }

  /** True once the room has been unregistered from its service. */
  get removed(): boolean {
    return this.#removed;
  }

  get subject(): string | null {
    return this.#subject;
  }

  /** Occupant JID of whoever set the subject. */
  get subjectFrom(): string | null {
    return this.#subjectFrom;
  }

  /** The room's name, or its localpart if it has none. */
  get title(): string {
    return this.#config.name || this.localpart;
  }

  /** Number of occupants (nicknames, not sessions). */
  get occupantCount(): number {
    return this.#byNick.size;
  }

  occupants(): IterableIterator<Occupant> {
    return this.#byNick.values();
  }

  occupant(nick: string): Occupant | undefined {
    return this.#byNick.get(nick);
  }

  /** The occupant a real full JID is in the room as. */
  occupantBySession(fullJid: string): Occupant | undefined {
    return this.#bySession.get(fullJid);
  }

  /** A bare JID's affiliation; service admins are owners. */
  affiliationOf(bareJid: string): Affiliation {
    if (this.#ctx.isServiceAdmin(bareJid)) return "owner";
    return this.#affiliations.get(bareJid)?.affiliation ?? "none";
  }

  /** Every stored affiliation, by bare JID. */
  affiliations(): IterableIterator<[string, Readonly<AffiliationRecord>]> {
    return this.#affiliations.entries();
  }

  /**
   * Sets (or with "none" removes) a bare JID's affiliation and saves a persistent room.
   * TODO(#muc-admin): role changes and kicks that follow from a new affiliation (XEP-0045 §9).
   */
  setAffiliation(
    bareJid: string,
    affiliation: Affiliation,
    extra: { nick?: string; reason?: string } = {},
  ): void {
    if (affiliation === "none") this.#affiliations.delete(bareJid);
    else this.#affiliations.set(bareJid, { affiliation, ...extra });
    for (const occupant of this.#byNick.values()) {
      if (occupant.bareJid === bareJid) occupant.affiliation = this.affiliationOf(bareJid);
    }
    this.save();
  }

  /** Whether `recipient` sees occupants' real JIDs (XEP-0045 §4.2, muc#roomconfig_whois). */
  canSeeRealJids(recipient: Occupant): boolean {
    return this.#config.whois === "anyone" || recipient.role === "moderator";
  }

  /**
   * Enters `origin` into the room as `nick` (XEP-0045 §7.2). Throws a StanzaError if refused.
   * Resolves to false if the room was removed while the entry checks ran: the caller retries.
   */
  async join(stanza: Element, origin: Jid, nick: string, created = false): Promise<boolean> {
    this.#checkEntry(origin);
    const hooks = this.#ctx.hooks;
    const veto = await hooks.fireVeto("occupant-pre-join", {
      room: this,
      stanza,
      origin,
      nick,
      affiliation: this.affiliationOf(origin.bare),
    });
    if (this.#removed) return false;
    if (veto !== undefined) throw veto;
    // Checked again: other stanzas were handled while the veto chain awaited.
    this.#checkEntry(origin);
    const current = this.#bySession.get(origin.full);
    if (current !== undefined) {
      if (current.nick !== nick) throw nickChangeRefused();
      this.updatePresence(stanza, origin);
      return true;
    }
    let occupant = this.#byNick.get(nick);
    if (occupant !== undefined && occupant.bareJid !== origin.bare) {
      throw new StanzaError("cancel", "conflict", { text: "That nickname is already in use" });
    }
    if (occupant === undefined) {
      const affiliation = this.affiliationOf(origin.bare);
      const decided = { room: this, origin, affiliation, role: defaultRole(affiliation) };
      hooks.fireContribute("occupant-role", decided);
      if (decided.role === "none") {
        throw new StanzaError("auth", "forbidden", { text: "You may not enter this room" });
      }
      occupant = new Occupant({
        roomJid: this.jid,
        nick,
        bareJid: origin.bare,
        role: decided.role,
        affiliation,
      });
      this.#byNick.set(nick, occupant);
    }
    occupant.setSession(origin.full, presencePayload(stanza));
    this.#bySession.set(origin.full, occupant);
    this.#ctx.sessionChanged(this, origin.full, true);

    // XEP-0045 §7.2.2-7.2.3: others' presence first, then the joiner's (self-presence last for
    // the joiner), then history (TODO(#history)) and the subject (§7.2.15).
    this.#sendOccupantsTo(occupant, origin.full);
    const statuses = new Set<number>(created ? [201] : []);
    hooks.fireContribute("self-presence", { room: this, occupant, kind: "join", statuses });
    this.#announce(occupant, origin.full, statuses);
    this.#sendSubject(origin.full);
    hooks.fireNotify("occupant-joined", { room: this, occupant, origin });
    return true;
  }

  /**
   * A presence from a session already in the room, to its own nickname: broadcast the new
   * presence. COMPAT(Prosody): a join `<x/>` in it means the client thinks it is not in the room
   * (e.g. after a reconnect), so it gets the occupant list and subject again, as on entering.
   */
  updatePresence(stanza: Element, origin: Jid): void {
    const occupant = this.#bySession.get(origin.full);
    if (occupant === undefined) return;
    occupant.setSession(origin.full, presencePayload(stanza));
    const rejoin = readMucJoin(stanza) !== undefined;
    if (rejoin) this.#sendOccupantsTo(occupant, origin.full);
    const statuses = new Set<number>();
    this.#ctx.hooks.fireContribute("self-presence", {
      room: this,
      occupant,
      kind: rejoin ? "join" : "update",
      statuses,
    });
    this.#announce(occupant, origin.full, statuses);
    if (rejoin) this.#sendSubject(origin.full);
  }

  /**
   * Takes a session out of the room (XEP-0045 §7.14): unavailable presence to everyone, status 110
   * to the leaver. `stanza` is its unavailable presence, whose `<status/>` is passed on; absent
   * when the session vanished. A temporary room is removed when its last occupant leaves.
   */
  leave(origin: Jid, stanza?: Element): void {
    const occupant = this.#bySession.get(origin.full);
    if (occupant === undefined) return;
    const payload = stanza === undefined ? [] : presencePayload(stanza);
    const shownJid = occupant.realJid; // what others saw, before the session goes
    this.#bySession.delete(origin.full);
    occupant.removeSession(origin.full);
    this.#ctx.sessionChanged(this, origin.full, false);
    if (occupant.sessions.size > 0) {
      // Other sessions keep the nickname: others now see the remaining one.
      this.#announce(occupant, undefined, new Set());
    } else {
      this.#byNick.delete(occupant.nick);
      occupant.role = "none";
      let plain: Element | undefined;
      let full: Element | undefined;
      for (const [sessionJid, recipient] of this.#bySession) {
        const stanza = this.canSeeRealJids(recipient)
          ? full ??= this.#presenceOf(occupant, shownJid, "unavailable", payload)
          : plain ??= this.#presenceOf(occupant, undefined, "unavailable", payload);
        this.#send(stanza, sessionJid);
      }
    }
    const statuses = new Set<number>();
    this.#ctx.hooks.fireContribute("self-presence", {
      room: this,
      occupant,
      kind: "leave",
      statuses,
    });
    this.#send(
      this.#selfPresence(occupant, origin.full, statuses, { type: "unavailable", payload }),
      origin.full,
    );
    this.#ctx.hooks.fireNotify("occupant-left", { room: this, occupant, origin });
    this.removeIfUnused();
  }

  /**
   * A groupchat message from an occupant (XEP-0045 §7.4): broadcast from its occupant JID. A
   * message with `<subject/>` and no `<body/>` changes the subject (§8.1).
   */
  groupchat(stanza: Element, origin: Jid): void | Promise<void> {
    const occupant = this.#bySession.get(origin.full);
    if (occupant === undefined) {
      throw new StanzaError("modify", "not-acceptable", {
        text: "Only occupants may send messages to the room",
      });
    }
    if (!hasRole(occupant.role, "participant")) {
      throw new StanzaError("auth", "forbidden", { text: "Visitors may not speak in this room" });
    }
    const subject = stanza.getChild("subject");
    if (subject !== undefined && stanza.getChild("body") === undefined) {
      return this.#changeSubject(stanza, origin, occupant, subject.getText());
    }
    this.#broadcastMessage(occupant.jid, stanza);
  }

  /**
   * A private message from an occupant to another (XEP-0045 §7.5), passed on from the sender's
   * occupant JID with a muc#user `<x/>` to every session of the recipient.
   */
  privateMessage(stanza: Element, origin: Jid, nick: string): void {
    const sender = this.#bySession.get(origin.full);
    if (sender === undefined) {
      throw new StanzaError("modify", "not-acceptable", {
        text: "Only occupants may send private messages",
      });
    }
    const target = this.#byNick.get(nick);
    if (target === undefined) {
      throw new StanzaError("cancel", "item-not-found", { text: "No occupant has that nickname" });
    }
    const children: XmlNode[] = stanza.elements();
    if (stanza.getChild("x", NS.MUC_USER) === undefined) {
      children.push(el("x", { xmlns: NS.MUC_USER }));
    }
    const out = new Element(
      "message",
      messageAttrs(sender.jid, stanza, stanza.attrs.type),
      children,
    );
    for (const sessionJid of target.sessions.keys()) this.#send(out, sessionJid);
  }

  /**
   * Applies configuration changes (already validated), unlocks the room and saves or unstores it.
   * Returns the keys whose value changed.
   */
  updateConfig(patch: Partial<RoomConfig>): (keyof RoomConfig)[] {
    const wasPersistent = this.#config.persistent;
    const changed: (keyof RoomConfig)[] = [];
    const target = this.#config as unknown as Record<string, unknown>;
    for (const key of configKeys()) {
      if (key in patch && !sameValue(patch[key], this.#config[key])) {
        changed.push(key);
        target[key] = patch[key];
      }
    }
    this.#locked = false;
    if (this.#config.persistent) this.save();
    else if (wasPersistent) this.#ctx.store.remove(this.jid);
    return changed;
  }

  /** Sends a muc#user status message from the room to every occupant (e.g. 104, §10.2). */
  broadcastStatus(...codes: number[]): void {
    const message = new Element("message", { from: this.jid, to: "", type: "groupchat" }, [
      mucUserX(undefined, codes),
    ]);
    for (const sessionJid of this.#bySession.keys()) this.#send(message, sessionJid);
  }

  /**
   * Destroys the room (XEP-0045 §10.9): every occupant gets unavailable presence with `<destroy/>`,
   * then the room is unregistered (and unstored).
   */
  destroy(options: { reason?: string; alternate?: string } = {}): void {
    const destroyed = el(
      "destroy",
      { jid: options.alternate },
      options.reason !== undefined && el("reason", {}, options.reason),
    );
    for (const [sessionJid, occupant] of this.#bySession) {
      const x = el("x", { xmlns: NS.MUC_USER }, mucItem(occupant.affiliation, "none"), destroyed);
      this.#send(
        new Element("presence", { from: occupant.jid, to: "", type: "unavailable" }, [x]),
        sessionJid,
      );
      this.#ctx.sessionChanged(this, sessionJid, false);
    }
    this.#bySession.clear();
    this.#byNick.clear();
    this.#remove();
  }

  /** Removes the room if nobody is in it and it is temporary or was never configured. */
  removeIfUnused(): void {
    if (this.#bySession.size === 0 && (!this.#config.persistent || this.#locked)) this.#remove();
  }

  /** Stores a persistent, configured room; does nothing for others. */
  save(): void {
    if (this.#config.persistent && !this.#locked && !this.#removed) {
      this.#ctx.store.save(this.toStored());
    }
  }

  /** What {@linkcode RoomStore.save} keeps of this room. */
  toStored(): StoredRoom {
    const affiliations: StoredAffiliation[] = [];
    for (const [jid, record] of this.#affiliations) affiliations.push({ jid, ...record });
    return {
      jid: this.jid,
      config: storableConfig(this.#config),
      passwordHash: this.#config.passwordHash,
      subject: this.#subject,
      subjectFrom: this.#subjectFrom,
      affiliations,
    };
  }

  #remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    this.#ctx.removed(this);
  }

  #checkEntry(origin: Jid): void {
    const affiliation = this.affiliationOf(origin.bare);
    // XEP-0045 §10.1.1: a locked room does not exist for anyone but its owner.
    if (this.#locked && affiliation !== "owner") throw new StanzaError("cancel", "item-not-found");
    if (affiliation === "outcast") {
      throw new StanzaError("auth", "forbidden", { text: "You are banned from this room" });
    }
  }

  async #changeSubject(
    stanza: Element,
    origin: Jid,
    occupant: Occupant,
    subject: string,
  ): Promise<void> {
    const veto = await this.#ctx.hooks.fireVeto("subject-pre-change", {
      room: this,
      stanza,
      origin,
      occupant,
      subject,
    });
    if (veto !== undefined) throw veto;
    if (this.#bySession.get(origin.full) !== occupant) {
      throw new StanzaError("modify", "not-acceptable", { text: "You left the room" });
    }
    this.#subject = subject === "" ? null : subject;
    this.#subjectFrom = subject === "" ? null : occupant.jid;
    this.save();
    this.#broadcastMessage(occupant.jid, stanza);
  }

  #broadcastMessage(from: string, stanza: Element): void {
    const out = new Element("message", messageAttrs(from, stanza, "groupchat"), stanza.children);
    for (const sessionJid of this.#bySession.keys()) this.#send(out, sessionJid);
  }

  /** Every other occupant's presence, to one session of `joiner`. */
  #sendOccupantsTo(joiner: Occupant, sessionJid: string): void {
    const withJids = this.canSeeRealJids(joiner);
    for (const other of this.#byNick.values()) {
      if (other === joiner) continue;
      this.#send(this.#presenceOf(other, withJids ? other.realJid : undefined), sessionJid);
    }
  }

  /**
   * `occupant`'s available presence to everyone: self-presence (110) to its own sessions, with
   * `statuses` too for `statusSession`; others get one of two shared stanzas, with or without
   * the real JID.
   */
  #announce(occupant: Occupant, statusSession: string | undefined, statuses: Set<number>): void {
    let plain: Element | undefined;
    let full: Element | undefined;
    for (const [sessionJid, recipient] of this.#bySession) {
      if (recipient === occupant) {
        const own = sessionJid === statusSession ? statuses : new Set<number>();
        this.#send(this.#selfPresence(occupant, sessionJid, own), sessionJid);
      } else if (this.canSeeRealJids(recipient)) {
        this.#send(full ??= this.#presenceOf(occupant, occupant.realJid), sessionJid);
      } else {
        this.#send(plain ??= this.#presenceOf(occupant, undefined), sessionJid);
      }
    }
  }

  /** `occupant`'s presence as others see it; `realJid` only for those who may see it. */
  #presenceOf(
    occupant: Occupant,
    realJid: string | undefined,
    type?: "unavailable",
    payload: readonly XmlNode[] = occupant.payload,
  ): Element {
    const attrs: Attrs = { from: occupant.jid, to: "" };
    if (type !== undefined) attrs.type = type;
    const item = mucItem(occupant.affiliation, occupant.role, realJid);
    return new Element("presence", attrs, [...payload, mucUserX(item)]);
  }

  /** Self-presence to one session: 110 among the statuses, its real JID if it may see JIDs. */
  #selfPresence(
    occupant: Occupant,
    sessionJid: string,
    statuses: Set<number>,
    options: { type?: "unavailable"; payload?: readonly XmlNode[] } = {},
  ): Element {
    const attrs: Attrs = { from: occupant.jid, to: sessionJid };
    if (options.type !== undefined) attrs.type = options.type;
    const role: Role = options.type === "unavailable" ? "none" : occupant.role;
    // XEP-0045 §7.2.3: in a semi-anonymous room a participant's own item carries no real JID
    // either. A leaver has lost its role already: judge by the affiliation that gave it one.
    const sees = options.type === "unavailable"
      ? this.#config.whois === "anyone" || occupant.affiliation === "owner" ||
        occupant.affiliation === "admin"
      : this.canSeeRealJids(occupant);
    const item = mucItem(occupant.affiliation, role, sees ? sessionJid : undefined);
    const payload = options.payload ?? occupant.sessions.get(sessionJid) ?? [];
    return new Element("presence", attrs, [...payload, mucUserX(item, [...statuses, 110])]);
  }

  /** XEP-0045 §7.2.15: the subject (empty `<subject/>` if none) ends the entering sequence. */
  #sendSubject(sessionJid: string): void {
    const from = this.#subject === null ? this.jid : this.#subjectFrom ?? this.jid;
    const message = new Element("message", { from, to: sessionJid, type: "groupchat" }, [
      el("subject", {}, this.#subject ?? ""),
    ]);
    this.#ctx.deliver(message);
  }

  #send(stanza: Element, to: string): void {
    stanza.attrs.to = to;
    this.#ctx.deliver(stanza);
  }
}

/** A refused nickname change. TODO(#muc-nick-change): XEP-0045 §7.6, statuses 303 and 110. */
export function nickChangeRefused(): StanzaError {
  return new StanzaError("modify", "not-acceptable", {
    text: "Changing nickname is not supported yet; leave and enter again",
  });
}

function messageAttrs(from: string, stanza: Element, type: string | undefined): Attrs {
  const attrs: Attrs = { from, to: "" };
  if (type !== undefined) attrs.type = type;
  if (stanza.attrs.id !== undefined) attrs.id = stanza.attrs.id;
  const lang = stanza.attrs["xml:lang"];
  if (lang !== undefined) attrs["xml:lang"] = lang;
  return attrs;
}
