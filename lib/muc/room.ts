// A room: occupants, affiliations, broadcast. XEP-0045 §7 (occupant use cases), §8.1 (subject),
// §10.1 (creation and locking), §10.9 (destruction).
//
// The room knows no room option beyond those RoomConfig documents as core; everything else comes
// through MucHooks. It throws StanzaError for requests it refuses; the service answers them.
//
// Delivery contract: `deliver` (the router's) serializes the stanza before it returns and keeps no
// reference to it. Broadcasts therefore build one Element and change only `attrs.to` between
// calls; payload children are shared, never mutated. With `deliverXml` (the router's fast path)
// a broadcast is serialized once, cut where its `to` goes, and only the address is spliced in per
// recipient; `deliver` remains the fallback for recipients that are not local sessions.
import { type Attrs, el, Element, type XmlNode } from "../xml/element.ts";
import { escapeAttr } from "../xml/escape.ts";
import { type Jid, parseJid } from "../jid/jid.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import type { Deliver } from "../router/component.ts";
import type { RoomStore, StoredAffiliation, StoredRoom } from "../storage/room_store.ts";
import {
  type Affiliation,
  AFFILIATION_RANK,
  defaultRole,
  hasRole,
  type Role,
  ROLE_RANK,
} from "./affiliation.ts";
import type { MucHooks } from "./hooks.ts";
import { Occupant, type XmlTemplate } from "./occupant.ts";
import {
  configKeys,
  restoreConfig,
  type RoomConfig,
  sameValue,
  storableConfig,
} from "./room_config.ts";
import {
  type ItemExtra,
  mucItem,
  mucUserX,
  presencePayload,
  readMucJoin,
  stamp,
} from "./_codec.ts";

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
  /**
   * The router's fast path: writes an already serialized stanza to the local session bound to
   * `to`; false if there is none (then `deliver` is used).
   */
  readonly deliverXml?: (to: string, xml: string) => boolean;
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
  #destruction: { reason?: string; alternate?: string } | undefined;
  #subject: string | null;
  // When the subject was last set or cleared (ms), for the delay on entering (§7.2.15). Kept in
  // memory only: a room restored from the store has none until its subject changes again.
  #subjectTime: number | null = null;
  #subjectFrom: string | null;
  readonly #affiliations = new Map<string, AffiliationRecord>();
  readonly #byNick = new Map<string, Occupant>();
  // Every session of every occupant: the broadcast loop runs over this map alone.
  readonly #bySession = new Map<string, Occupant>();
  // The last stanza serialized for deliverXml and its template: a broadcast loop sends one
  // element to every recipient, so it is serialized once.
  #lastStanza: Element | undefined;
  #lastTemplate: XmlTemplate = ["", ""];
  // Forwarded iqs between occupants (§7.5): our id → who asked and with which id.
  readonly #pendingIq = new Map<string, { to: string; id: string | undefined; from: string }>();
  #iqCounter = 0;

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

  /** How the room was destroyed (§10.9), once its owner has destroyed it. */
  get destruction(): Readonly<{ reason?: string; alternate?: string }> | undefined {
    return this.#destruction;
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

  /** Where the room is kept; features that keep more of it (history) use it too. */
  get store(): RoomStore {
    return this.#ctx.store;
  }

  /** Every session in the room with the occupant it is. */
  sessions(): IterableIterator<[string, Occupant]> {
    return this.#bySession.entries();
  }

  /** The bare JID that reserved `nick` (XEP-0045 §7.10, §7.12), if any. */
  reservedBy(nick: string): string | undefined {
    for (const [jid, record] of this.#affiliations) if (record.nick === nick) return jid;
    return undefined;
  }

  /** The stored record of a bare JID (without the service-admin rule). */
  affiliationRecord(bareJid: string): Readonly<AffiliationRecord> | undefined {
    return this.#affiliations.get(bareJid);
  }

  /**
   * Sets (or with "none" removes) a bare JID's stored affiliation and saves a persistent room,
   * without telling anyone: for creation and restoring. Use {@linkcode Room.changeAffiliation}
   * for the XEP-0045 §9-§10 use cases.
   */
  setAffiliation(
    bareJid: string,
    affiliation: Affiliation,
    extra: { nick?: string; reason?: string } = {},
  ): void {
    if (affiliation === "none") this.#affiliations.delete(bareJid);
    else {
      const record: AffiliationRecord = { affiliation };
      if (extra.nick !== undefined) record.nick = extra.nick;
      if (extra.reason !== undefined) record.reason = extra.reason;
      this.#affiliations.set(bareJid, record);
    }
    for (const occupant of this.#byNick.values()) {
      if (occupant.bareJid === bareJid) occupant.affiliation = this.affiliationOf(bareJid);
    }
    this.save();
  }

  /**
   * Changes a bare JID's affiliation with its consequences (XEP-0045 §9.1-§9.8, §10.3-§10.7, as
   * Prosody does): occupants under that JID get the role the new affiliation gives (kicked with
   * 301 when banned, 321 when no longer allowed in), everyone sees the new item; if the JID is not
   * in the room, the room and the JID are told by message. Permission checks are the caller's.
   */
  changeAffiliation(
    bareJid: string,
    affiliation: Affiliation,
    options: { actor?: string; actorJid?: string; reason?: string; nick?: string } = {},
  ): void {
    const before = this.#affiliations.get(bareJid);
    const previous: Affiliation = before?.affiliation ?? "none";
    const keepNick = affiliation !== "none" && affiliation !== "outcast";
    const nick = options.nick ?? (keepNick ? before?.nick : undefined);
    this.setAffiliation(bareJid, affiliation, { nick, reason: options.reason });
    const effective = this.affiliationOf(bareJid);
    const role = this.#decideRole(bareJid, effective);
    const downgrade = AFFILIATION_RANK[previous] > AFFILIATION_RANK[affiliation];
    const extra: ItemExtra = {
      actor: options.actor,
      actorJid: options.actorJid,
      reason: options.reason,
    };
    let present = false;
    for (const occupant of [...this.#byNick.values()]) {
      if (occupant.bareJid !== bareJid) continue;
      present = true;
      const before = occupant.role;
      if (occupant.role !== role && (downgrade || ROLE_RANK[occupant.role] < ROLE_RANK[role])) {
        if (role === "none") {
          this.removeOccupant(occupant, {
            statuses: [affiliation === "outcast" ? 301 : 321],
            extra,
          });
          continue;
        }
        occupant.role = role;
      }
      this.#presenceChanged(occupant, before, extra);
    }
    if (!present) this.#announceAffiliation(bareJid, affiliation, options.reason);
    this.#ctx.hooks.fireNotify("affiliation-changed", {
      room: this,
      jid: bareJid,
      previous,
      affiliation,
    });
  }

  /**
   * Changes an occupant's role (XEP-0045 §8.2-§8.6, §9.6-§9.7): "none" kicks it (307); others are
   * broadcast with the actor and reason. Permission checks are the caller's.
   */
  changeRole(occupant: Occupant, role: Role, extra: ItemExtra = {}): void {
    if (role === "none") {
      this.removeOccupant(occupant, { statuses: [307], extra });
      return;
    }
    const before = occupant.role;
    occupant.role = role;
    this.#presenceChanged(occupant, before, extra);
  }

  /**
   * Takes every session of an occupant out of the room with the given status codes (307 kicked,
   * 301 banned, 321/322 not a member, 333 error): unavailable presence to everyone, 110 to it.
   */
  removeOccupant(
    occupant: Occupant,
    options: { statuses: number[]; extra?: ItemExtra; text?: string; sessions?: string[] },
  ): void {
    const sessions = options.sessions ?? [...occupant.sessions.keys()];
    const payload = options.text === undefined ? [] : [el("status", {}, options.text)];
    const extra = options.extra ?? {};
    this.#withdraw(
      occupant,
      sessions,
      { payload, extra, statuses: options.statuses },
      () => this.#presenceChanged(occupant, occupant.role, {}),
    );
    for (const sessionJid of sessions) {
      this.#send(
        this.#selfPresence(occupant, sessionJid, new Set(options.statuses), {
          type: "unavailable",
          payload,
          extra,
        }),
        sessionJid,
      );
    }
    for (const sessionJid of sessions) {
      this.#ctx.hooks.fireNotify("occupant-left", {
        room: this,
        occupant,
        origin: parseJid(sessionJid),
      });
    }
    this.removeIfUnused();
  }

  /** Whether `recipient` sees occupants' real JIDs (XEP-0045 §4.2, muc#roomconfig_whois). */
  canSeeRealJids(recipient: Occupant): boolean {
    return this.#config.whois === "anyone" || recipient.role === "moderator";
  }

  /** Whether the presence of occupants with `role` is broadcast (presencebroadcast). */
  broadcasts(role: Role): boolean {
    return role !== "none" && (this.#config.presenceBroadcast as readonly string[]).includes(role);
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
      if (current.nick !== nick) return this.changeNick(stanza, origin, nick).then(() => true);
      this.updatePresence(stanza, origin);
      return true;
    }
    let occupant = this.#byNick.get(nick);
    if (occupant !== undefined && occupant.bareJid !== origin.bare) {
      throw new StanzaError("cancel", "conflict", { text: "That nickname is already in use" });
    }
    if (occupant === undefined) {
      const affiliation = this.affiliationOf(origin.bare);
      const role = this.#decideRole(origin.bare, affiliation, origin);
      if (role === "none") {
        throw new StanzaError("auth", "forbidden", { text: "You may not enter this room" });
      }
      occupant = new Occupant({ roomJid: this.jid, nick, bareJid: origin.bare, role, affiliation });
      const tags: Element[] = [];
      hooks.fireContribute("occupant-tags", { room: this, bareJid: origin.bare, tags });
      occupant.tags = tags;
      this.#byNick.set(nick, occupant);
    }
    occupant.setSession(origin.full, presencePayload(stanza));
    this.#bySession.set(origin.full, occupant);
    this.#ctx.sessionChanged(this, origin.full, true);

    // XEP-0045 §7.2.2-7.2.3, §7.2.15: others' presence first, then the joiner's (self-presence
    // last for the joiner), then history, then the subject.
    this.#sendOccupantsTo(occupant, origin.full);
    const statuses = new Set<number>(created ? [201] : []);
    hooks.fireContribute("self-presence", { room: this, occupant, kind: "join", statuses });
    this.#announce(occupant, origin.full, statuses);
    hooks.fireNotify("occupant-entering", { room: this, occupant, origin, stanza });
    this.#sendSubject(origin.full);
    hooks.fireNotify("occupant-joined", { room: this, occupant, origin });
    return true;
  }

  /**
   * A presence from a session already in the room, to its own nickname: broadcast the new
   * presence. COMPAT(Prosody): a join `<x/>` in it means the client thinks it is not in the room
   * (e.g. after a reconnect), so it gets the occupant list, history and subject again.
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
    if (rejoin) {
      this.#ctx.hooks.fireNotify("occupant-entering", { room: this, occupant, origin, stanza });
      this.#sendSubject(origin.full);
    }
  }

  /**
   * XEP-0045 §7.6: an occupant takes another nickname. Others see it leave with status 303 and
   * the new nick, then enter under the new one with the same role; it gets both with 110.
   */
  async changeNick(stanza: Element, origin: Jid, nick: string): Promise<void> {
    const occupant = this.#bySession.get(origin.full);
    if (occupant === undefined) return;
    if (occupant.sessions.size > 1) {
      throw new StanzaError("modify", "not-acceptable", {
        text: "Cannot change nickname while other sessions share it",
      });
    }
    const check = () => {
      const holder = this.#byNick.get(nick);
      if (holder !== undefined && holder !== occupant) {
        throw new StanzaError("cancel", "conflict", { text: "That nickname is already in use" });
      }
    };
    check();
    const veto = await this.#ctx.hooks.fireVeto("nick-pre-change", {
      room: this,
      stanza,
      origin,
      occupant,
      nick,
    });
    if (veto !== undefined) throw veto;
    if (this.#bySession.get(origin.full) !== occupant) return;
    check();
    const shownJid = occupant.realJid;
    const extra: ItemExtra = { nick };
    this.#toOthers(
      occupant,
      occupant.role,
      (withJid) =>
        this.#presenceOf(occupant, withJid ? shownJid : undefined, {
          type: "unavailable",
          role: occupant.role,
          extra,
          statuses: [303],
          payload: [],
        }),
    );
    this.#send(
      this.#selfPresence(occupant, origin.full, new Set([303]), {
        type: "unavailable",
        payload: [],
        role: occupant.role,
        extra,
      }),
      origin.full,
    );
    const renamed = new Occupant({
      roomJid: this.jid,
      nick,
      bareJid: occupant.bareJid,
      role: occupant.role,
      affiliation: occupant.affiliation,
    });
    renamed.tags = occupant.tags;
    renamed.setSession(origin.full, presencePayload(stanza));
    this.#byNick.delete(occupant.nick);
    this.#byNick.set(nick, renamed);
    this.#bySession.set(origin.full, renamed);
    this.#announce(renamed, origin.full, new Set());
  }

  /**
   * A session's client answered with an error (presence or message of type error): it is taken
   * out, and the others see why: status 333 alone (XEP-0045 §11.1 advises against adding 307).
   */
  kickForError(stanza: Element, origin: Jid): void {
    const occupant = this.#bySession.get(origin.full);
    if (occupant === undefined) return;
    const error = stanza.getChild("error");
    let text = error?.getChildText("text", NS.STANZA_ERRORS)?.trim() ?? "";
    if (text === "") {
      const condition = error?.elements().find((child) => child.attrs.xmlns === NS.STANZA_ERRORS);
      text = `Kicked: ${condition?.name.replaceAll("-", " ") ?? "presence error"}`;
    }
    this.removeOccupant(occupant, { statuses: [333], text, sessions: [origin.full] });
  }

  /**
   * A presence probe to an occupant JID (XEP-0045 §7.2, Prosody): answered with the occupant's
   * current presence, or for a member with that reserved nick who is away, unavailable presence;
   * any other nickname, nothing.
   */
  probe(origin: Jid, nick: string): void {
    const prober = this.#bySession.get(origin.full);
    if (prober === undefined) {
      throw new StanzaError("cancel", "not-acceptable", {
        text: "You are not currently connected to this chat",
      });
    }
    const occupant = this.#byNick.get(nick);
    const withJid = this.canSeeRealJids(prober);
    if (occupant !== undefined) {
      this.#send(this.#presenceOf(occupant, withJid ? occupant.realJid : undefined), origin.full);
      return;
    }
    const member = this.reservedBy(nick);
    // A probe of a nickname nobody holds or reserved goes unanswered (as Prosody): an error would
    // only tell the prober what a silence tells it too.
    if (member === undefined) return;
    const item = mucItem(this.affiliationOf(member), "none", withJid ? member : undefined);
    this.#send(
      new Element("presence", { from: `${this.jid}/${nick}`, to: "", type: "unavailable" }, [
        mucUserX(item),
      ]),
      origin.full,
    );
  }

  /**
   * Leaves the room (XEP-0045 §7.14): unavailable presence to everyone, status 110 to the leaver.
   * `stanza` is its unavailable presence, whose `<status/>` is passed on; absent when the session
   * vanished. A temporary room is removed when its last occupant leaves.
   */
  leave(origin: Jid, stanza?: Element): void {
    const occupant = this.#bySession.get(origin.full);
    if (occupant === undefined) return;
    const payload = stanza === undefined ? [] : presencePayload(stanza);
    // Other sessions keep the nickname: others now see the remaining one.
    this.#withdraw(
      occupant,
      [origin.full],
      { payload },
      () => this.#announce(occupant, undefined, new Set()),
    );
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
   * message with `<subject/>` and neither `<body/>` nor `<thread/>` changes the subject (§8.1);
   * it is relayed as sent, its other children included.
   */
  groupchat(stanza: Element, origin: Jid): void | Promise<void> {
    const occupant = this.#bySession.get(origin.full);
    if (occupant === undefined) {
      throw new StanzaError("cancel", "not-acceptable", {
        text: "Only occupants may send messages to the room",
      });
    }
    if (!hasRole(occupant.role, "participant")) {
      throw new StanzaError("auth", "forbidden", { text: "Visitors may not speak in this room" });
    }
    // §8.1: with a <body/> or a <thread/> it is a message that happens to have a subject.
    const subject = stanza.getChild("subject");
    if (
      subject !== undefined && stanza.getChild("body") === undefined &&
      stanza.getChild("thread") === undefined
    ) {
      return this.#changeSubject(stanza, origin, occupant, subject.getText());
    }
    const message = this.#broadcastMessage(occupant, stanza, origin);
    this.#ctx.hooks.fireNotify("groupchat", { room: this, occupant, message });
  }

  /**
   * A private message from an occupant to another (XEP-0045 §7.5), passed on from the sender's
   * occupant JID with a muc#user `<x/>` to every session of the recipient.
   */
  async privateMessage(stanza: Element, origin: Jid, nick: string): Promise<void> {
    const sender = this.#bySession.get(origin.full);
    if (sender === undefined) {
      throw new StanzaError("cancel", "not-acceptable", {
        text: "Only occupants may send private messages",
      });
    }
    const target = this.#byNick.get(nick);
    if (target === undefined) {
      throw new StanzaError("cancel", "item-not-found", { text: "No occupant has that nickname" });
    }
    const veto = await this.#ctx.hooks.fireVeto("private-message", {
      room: this,
      stanza,
      origin,
      sender,
      target,
    });
    if (veto !== undefined) throw veto;
    const children: XmlNode[] = stanza.elements();
    if (stanza.getChild("x", NS.MUC_USER) === undefined) {
      children.push(el("x", { xmlns: NS.MUC_USER }));
    }
    const out = new Element(
      "message",
      messageAttrs(sender.jid, stanza, stanza.attrs.type),
      tagged(sender, children),
    );
    for (const sessionJid of target.sessions.keys()) this.#send(out, sessionJid);
  }

  /**
   * An iq from an occupant to another (XEP-0045 §7.5, as Prosody): passed on to the target's
   * primary session from the sender's occupant JID under a new id; the answer is passed back.
   */
  forwardIq(stanza: Element, origin: Jid, nick: string): void {
    const sender = this.#bySession.get(origin.full);
    if (sender === undefined) {
      throw new StanzaError("cancel", "not-acceptable", { text: "You are not in this room" });
    }
    const target = this.#byNick.get(nick);
    if (target === undefined) {
      throw new StanzaError("cancel", "item-not-found", { text: "No occupant has that nickname" });
    }
    if (this.#pendingIq.size >= MAX_PENDING_IQ) {
      // The oldest is dropped: its answer, if it ever comes, is ignored.
      this.#pendingIq.delete(this.#pendingIq.keys().next().value!);
    }
    const id = `muc-iq-${++this.#iqCounter}`;
    this.#pendingIq.set(id, { to: origin.full, id: stanza.attrs.id, from: target.jid });
    const attrs: Attrs = { ...stanza.attrs, from: sender.jid, to: target.realJid, id };
    this.#ctx.deliver(new Element("iq", attrs, stanza.children));
  }

  /** The answer to a forwarded iq, from an occupant's real JID to `to` (an occupant JID). */
  forwardIqAnswer(stanza: Element, origin: Jid): void {
    const id = stanza.attrs.id ?? "";
    const pending = this.#pendingIq.get(id);
    if (pending === undefined) return;
    const target = this.#byNick.get(pending.from.slice(this.jid.length + 1));
    if (target === undefined || !target.sessions.has(origin.full)) {
      return;
    }
    this.#pendingIq.delete(id);
    const attrs: Attrs = { ...stanza.attrs, from: pending.from, to: pending.to };
    if (pending.id === undefined) delete attrs.id;
    else attrs.id = pending.id;
    this.#ctx.deliver(new Element("iq", attrs, stanza.children));
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
    if (changed.includes("whois") || changed.includes("presenceBroadcast")) {
      for (const occupant of this.#byNick.values()) occupant.presenceCache = {};
    }
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

  /** Sends a stanza to one session (or any JID), from whatever its `from` says. */
  send(stanza: Element, to: string): void {
    this.#send(stanza, to);
  }

  /**
   * Destroys the room (XEP-0045 §10.9): every occupant gets unavailable presence with `<destroy/>`,
   * then the room is unregistered (and unstored).
   */
  destroy(options: { reason?: string; alternate?: string; password?: string } = {}): void {
    const destroyed = el(
      "destroy",
      { jid: options.alternate },
      options.reason !== undefined && el("reason", {}, options.reason),
      options.password !== undefined && el("password", {}, options.password),
    );
    this.#destruction = { reason: options.reason, alternate: options.alternate };
    const occupants = [...this.#bySession];
    this.#bySession.clear();
    this.#byNick.clear();
    for (const [sessionJid, occupant] of occupants) {
      // A self-presence like any other (as Prosody): its own real JID and status 110.
      const x = el(
        "x",
        { xmlns: NS.MUC_USER },
        mucItem(occupant.affiliation, "none", sessionJid),
        destroyed,
        el("status", { code: 110 }),
      );
      this.#send(
        new Element(
          "presence",
          { from: occupant.jid, to: "", type: "unavailable" },
          tagged(occupant, [x]),
        ),
        sessionJid,
      );
      this.#ctx.sessionChanged(this, sessionJid, false);
    }
    this.#remove();
  }

  /** Removes the room if nobody is in it and it is temporary or was never configured. */
  removeIfUnused(): void {
    if (this.#bySession.size === 0 && (!this.#config.persistent || this.#locked)) this.#remove();
  }

  /** Stores a persistent, configured room; does nothing for others. */
  save(): void {
    if (this.isStored) this.#ctx.store.save(this.toStored());
  }

  /** True when the room is (to be) kept in the store: persistent, configured, not removed. */
  get isStored(): boolean {
    return this.#config.persistent && !this.#locked && !this.#removed;
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
    if (this.#locked && affiliation !== "owner") {
      throw new StanzaError("cancel", "item-not-found");
    }
    if (affiliation === "outcast") {
      throw new StanzaError("auth", "forbidden", { text: "You are banned from this room" });
    }
  }

  /** XEP-0045 §5.1.2: the role an affiliation gives, after the room options have their say. */
  #decideRole(bareJid: string, affiliation: Affiliation, origin?: Jid): Role {
    const decided = {
      room: this,
      origin: origin ?? parseJid(bareJid),
      affiliation,
      role: defaultRole(affiliation),
    };
    this.#ctx.hooks.fireContribute("occupant-role", decided);
    return decided.role;
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
      throw new StanzaError("cancel", "not-acceptable", { text: "You left the room" });
    }
    this.#subject = subject === "" ? null : subject;
    this.#subjectFrom = subject === "" ? null : occupant.jid;
    this.#subjectTime = Date.now();
    this.save();
    this.#broadcastMessage(occupant, stanza);
  }

  /**
   * A groupchat message from `occupant` to everyone; `said` (the sending session): not a subject
   * change.
   */
  #broadcastMessage(occupant: Occupant, stanza: Element, said?: Jid): Element {
    const out = new Element(
      "message",
      messageAttrs(occupant.jid, stanza, "groupchat"),
      tagged(occupant, stanza.children),
    );
    if (said !== undefined) {
      this.#ctx.hooks.fireContribute("groupchat-message", {
        room: this,
        occupant,
        origin: said,
        message: out,
      });
    }
    for (const sessionJid of this.#bySession.keys()) this.#send(out, sessionJid);
    return out;
  }

  /**
   * An affiliation change of someone not in the room, to those occupants who may see real JIDs
   * (XEP-0045 §10.3, §10.6, §10.7 examples: the item carries role "none"). No out-of-room message
   * goes to the user: §18.1 makes it a MAY, and Prosody sends none.
   */
  #announceAffiliation(bareJid: string, affiliation: Affiliation, reason?: string): void {
    const extra: ItemExtra = { reason };
    const message = new Element("message", { from: this.jid, to: "" }, [
      mucUserX(mucItem(affiliation, "none", bareJid, extra)),
    ]);
    for (const [sessionJid, recipient] of this.#bySession) {
      if (this.canSeeRealJids(recipient)) this.#send(message, sessionJid);
    }
  }

  /** Every other occupant's presence, to one session of `joiner`. */
  #sendOccupantsTo(joiner: Occupant, sessionJid: string): void {
    const withJids = this.canSeeRealJids(joiner);
    for (const other of this.#byNick.values()) {
      if (other === joiner || !this.broadcasts(other.role)) continue;
      this.#sendPresenceOf(other, withJids, sessionJid);
    }
  }

  /** An occupant's role or affiliation changed: everyone sees its new item. */
  /**
   * Takes sessions of an occupant out of the room: the half that leaving and being removed share.
   * If the occupant keeps other sessions, `stillPresent` tells the room; otherwise its nickname is
   * freed and the others get its unavailable presence (with the real JID they saw before).
   */
  #withdraw(
    occupant: Occupant,
    sessions: string[],
    unavailable: { payload: readonly XmlNode[]; extra?: ItemExtra; statuses?: number[] },
    stillPresent: () => void,
  ): void {
    const shownJid = occupant.realJid;
    const previousRole = occupant.role;
    for (const sessionJid of sessions) {
      this.#bySession.delete(sessionJid);
      occupant.removeSession(sessionJid);
      this.#ctx.sessionChanged(this, sessionJid, false);
    }
    if (occupant.sessions.size > 0) return stillPresent();
    this.#byNick.delete(occupant.nick);
    occupant.role = "none";
    this.#toOthers(
      occupant,
      previousRole,
      (withJid) =>
        this.#presenceOf(occupant, withJid ? shownJid : undefined, {
          type: "unavailable",
          ...unavailable,
        }),
    );
  }

  #presenceChanged(occupant: Occupant, previousRole: Role, extra: ItemExtra): void {
    if (!this.broadcasts(occupant.role) && this.broadcasts(previousRole)) {
      // Its presence is no longer shown: others see it go.
      this.#toOthers(
        occupant,
        previousRole,
        (withJid) =>
          this.#presenceOf(occupant, withJid ? occupant.realJid : undefined, {
            type: "unavailable",
            payload: [],
            extra,
          }),
      );
    } else {
      this.#toOthers(
        occupant,
        occupant.role,
        (withJid) => this.#presenceOf(occupant, withJid ? occupant.realJid : undefined, { extra }),
      );
    }
    for (const sessionJid of occupant.sessions.keys()) {
      this.#send(
        this.#selfPresence(occupant, sessionJid, new Set(), { extra }),
        sessionJid,
      );
    }
  }

  /**
   * A presence about `occupant` to every other occupant, if presence of `shownRole` is broadcast:
   * one of two shared stanzas, with or without the real JID.
   */
  #toOthers(occupant: Occupant, shownRole: Role, build: (withJid: boolean) => Element): void {
    if (!this.broadcasts(shownRole)) return;
    let plain: Element | undefined;
    let full: Element | undefined;
    for (const [sessionJid, recipient] of this.#bySession) {
      if (recipient === occupant) continue;
      const stanza = this.canSeeRealJids(recipient) ? full ??= build(true) : plain ??= build(false);
      this.#send(stanza, sessionJid);
    }
  }

  /**
   * `occupant`'s available presence to everyone: self-presence (110) to its own sessions, with
   * `statuses` too for `statusSession`; others get its cached presence, with or without the real
   * JID.
   */
  #announce(occupant: Occupant, statusSession: string | undefined, statuses: Set<number>): void {
    const broadcast = this.broadcasts(occupant.role);
    for (const [sessionJid, recipient] of this.#bySession) {
      if (recipient === occupant) {
        const own = sessionJid === statusSession ? statuses : new Set<number>();
        this.#send(this.#selfPresence(occupant, sessionJid, own), sessionJid);
      } else if (broadcast) {
        this.#sendPresenceOf(occupant, this.canSeeRealJids(recipient), sessionJid);
      }
    }
  }

  /** `occupant`'s current available presence to one session, serialized once per change. */
  #sendPresenceOf(occupant: Occupant, withJid: boolean, to: string): void {
    const deliverXml = this.#ctx.deliverXml;
    if (deliverXml !== undefined) {
      const cache = occupant.presenceCache;
      let template = withJid ? cache.full : cache.plain;
      if (template === undefined) {
        template = toTemplate(this.#presenceOf(occupant, withJid ? occupant.realJid : undefined));
        if (withJid) cache.full = template;
        else cache.plain = template;
      }
      if (deliverXml(to, template[0] + escapeAttr(to) + template[1])) return;
    }
    const stanza = this.#presenceOf(occupant, withJid ? occupant.realJid : undefined);
    stanza.attrs.to = to;
    this.#ctx.deliver(stanza);
  }

  /** `occupant`'s presence as others see it; `realJid` only for those who may see it. */
  #presenceOf(
    occupant: Occupant,
    realJid: string | undefined,
    options: {
      type?: "unavailable";
      payload?: readonly XmlNode[];
      role?: Role;
      extra?: ItemExtra;
      statuses?: number[];
    } = {},
  ): Element {
    const attrs: Attrs = { from: occupant.jid, to: "" };
    if (options.type !== undefined) attrs.type = options.type;
    const role = options.role ?? (options.type === "unavailable" ? "none" : occupant.role);
    const item = mucItem(occupant.affiliation, role, realJid, options.extra);
    return new Element(
      "presence",
      attrs,
      tagged(occupant, [...options.payload ?? occupant.payload, mucUserX(item, options.statuses)]),
    );
  }

  /** Self-presence to one session: 110 among the statuses, its real JID if it may see JIDs. */
  #selfPresence(
    occupant: Occupant,
    sessionJid: string,
    statuses: Set<number>,
    options: {
      type?: "unavailable";
      payload?: readonly XmlNode[];
      role?: Role;
      extra?: ItemExtra;
    } = {},
  ): Element {
    const attrs: Attrs = { from: occupant.jid, to: sessionJid };
    if (options.type !== undefined) attrs.type = options.type;
    const role: Role = options.role ?? (options.type === "unavailable" ? "none" : occupant.role);
    // XEP-0045 §7.2.4 keeps a new occupant's real JID from non-moderators in semi-anonymous
    // rooms; what it protects is that JID from the others. The self-presence goes to that very
    // JID and discloses nothing, so it carries it in every room, as Prosody's does and as clients
    // expect (they read their own real JID from it).
    const { actorJid: _hidden, ...extra } = options.extra ?? {};
    const item = mucItem(occupant.affiliation, role, sessionJid, extra);
    const payload = options.payload ?? occupant.sessions.get(sessionJid) ?? [];
    return new Element(
      "presence",
      attrs,
      tagged(occupant, [...payload, mucUserX(item, [...statuses, 110])]),
    );
  }

  /**
   * XEP-0045 §7.2.15: the subject (empty `<subject/>` if none) ends the entering sequence, stamped
   * with when it was last set or cleared (a SHOULD; as Prosody), if the room knows.
   */
  #sendSubject(sessionJid: string): void {
    const from = this.#subject === null ? this.jid : this.#subjectFrom ?? this.jid;
    const message = el(
      "message",
      { from, to: sessionJid, type: "groupchat" },
      el("subject", {}, this.#subject ?? ""),
      this.#subjectTime !== null && delayFrom(this.jid, this.#subjectTime),
    );
    this.#send(message, sessionJid);
  }

  #send(stanza: Element, to: string): void {
    const deliverXml = this.#ctx.deliverXml;
    if (deliverXml !== undefined) {
      if (this.#lastStanza !== stanza) {
        this.#lastTemplate = toTemplate(stanza);
        this.#lastStanza = stanza;
      }
      const [head, tail] = this.#lastTemplate;
      if (deliverXml(to, head + escapeAttr(to) + tail)) return;
    }
    stanza.attrs.to = to;
    this.#ctx.deliver(stanza);
  }
}

// Forwarded iqs waiting for an answer, per room; beyond this the oldest is forgotten.
const MAX_PENDING_IQ = 1000;

// Stands for the recipient while a stanza is serialized: a private-use character no address has.
const TO_MARK = "\uE000";

/** Serializes a stanza once, cut where its `to` goes (see {@linkcode XmlTemplate}). */
function toTemplate(stanza: Element): XmlTemplate {
  stanza.attrs.to = TO_MARK;
  const xml = stanza.toString(NS.CLIENT);
  const cut = xml.indexOf(TO_MARK);
  return [xml.slice(0, cut), xml.slice(cut + TO_MARK.length)];
}

/**
 * `children` with the occupant's tags ("occupant-tags") added, and any child of the same name and
 * namespace the client sent taken out (XEP-0421 §4: a client must not forge them).
 */
function tagged(occupant: Occupant, children: readonly XmlNode[]): XmlNode[] {
  const tags = occupant.tags;
  if (tags.length === 0) return [...children];
  const kept = children.filter((child) =>
    typeof child === "string" ||
    !tags.some((tag) => tag.name === child.name && tag.attrs.xmlns === child.attrs.xmlns)
  );
  return [...kept, ...tags];
}

/** XEP-0203 delay from the room, as history messages carry it. */
export function delayFrom(roomJid: string, ms: number): Element {
  return el("delay", { xmlns: NS.DELAY, from: roomJid, stamp: stamp(ms) });
}

function messageAttrs(from: string, stanza: Element, type: string | undefined): Attrs {
  const attrs: Attrs = { from, to: "" };
  if (type !== undefined) attrs.type = type;
  if (stanza.attrs.id !== undefined) attrs.id = stanza.attrs.id;
  const lang = stanza.attrs["xml:lang"];
  if (lang !== undefined) attrs["xml:lang"] = lang;
  return attrs;
}
