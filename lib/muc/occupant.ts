// Occupants. XEP-0045 §7.2 (entering), and Prosody's multi-session occupants: one bare JID may
// be in a room under one nickname from several resources at once.
import type { Element, XmlNode } from "../xml/element.ts";
import type { Affiliation, Role } from "./affiliation.ts";

/**
 * A serialized stanza cut where its `to` goes: `head + escapeAttr(to) + tail`. Broadcasts are
 * serialized once and only the address changes per recipient.
 */
export type XmlTemplate = readonly [head: string, tail: string];

/** One nickname in a room, and the sessions (real full JIDs) behind it. */
export class Occupant {
  /** Room nickname (already prepared). */
  readonly nick: string;
  /** Occupant JID: `room@service/nick`. */
  readonly jid: string;
  /** The real bare JID behind every session of this occupant. */
  readonly bareJid: string;
  #role: Role;
  #affiliation: Affiliation;
  /** Real full JID → that session's presence payload (`<show/>`, `<status/>`, ...; no MUC `<x/>`). */
  readonly sessions: Map<string, readonly XmlNode[]> = new Map();
  #primary = "";
  /**
   * This occupant's available presence as others see it, serialized (without / with the real
   * JID). Entering a room of N sends N-1 of these: they are built once per change, not per join.
   */
  presenceCache: { plain?: XmlTemplate; full?: XmlTemplate } = {};
  /** What the room adds to every presence and message from this occupant ("occupant-tags"). */
  tags: readonly Element[] = [];

  constructor(
    options: {
      roomJid: string;
      nick: string;
      bareJid: string;
      role: Role;
      affiliation: Affiliation;
    },
  ) {
    this.nick = options.nick;
    this.jid = `${options.roomJid}/${options.nick}`;
    this.bareJid = options.bareJid;
    this.#role = options.role;
    this.#affiliation = options.affiliation;
  }

  get role(): Role {
    return this.#role;
  }

  set role(role: Role) {
    this.#role = role;
    this.presenceCache = {};
  }

  get affiliation(): Affiliation {
    return this.#affiliation;
  }

  set affiliation(affiliation: Affiliation) {
    this.#affiliation = affiliation;
    this.presenceCache = {};
  }

  /** The session shown to others: the one that last sent presence. */
  get realJid(): string {
    return this.#primary;
  }

  /** The primary session's presence payload. */
  get payload(): readonly XmlNode[] {
    return this.sessions.get(this.#primary) ?? [];
  }

  /** Adds or updates a session; it becomes the primary one. */
  setSession(fullJid: string, payload: readonly XmlNode[]): void {
    this.sessions.set(fullJid, payload);
    this.#primary = fullJid;
    this.presenceCache = {};
  }

  /** Removes a session; the most recently added remaining one becomes primary. */
  removeSession(fullJid: string): void {
    this.sessions.delete(fullJid);
    if (this.#primary === fullJid) {
      let last = "";
      for (const jid of this.sessions.keys()) last = jid;
      this.#primary = last;
      this.presenceCache = {};
    }
  }
}
