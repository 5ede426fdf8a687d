// Occupants. XEP-0045 §7.2 (entering), and Prosody's multi-session occupants: one bare JID may
// be in a room under one nickname from several resources at once.
import type { XmlNode } from "../xml/element.ts";
import type { Affiliation, Role } from "./affiliation.ts";

/** One nickname in a room, and the sessions (real full JIDs) behind it. */
export class Occupant {
  /** Room nickname (already prepared with `prepResource`). */
  readonly nick: string;
  /** Occupant JID: `room@service/nick`. */
  readonly jid: string;
  /** The real bare JID behind every session of this occupant. */
  readonly bareJid: string;
  role: Role;
  affiliation: Affiliation;
  /** Real full JID → that session's presence payload (`<show/>`, `<status/>`, ...; no MUC `<x/>`). */
  readonly sessions: Map<string, readonly XmlNode[]> = new Map();
  #primary = "";

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
    this.role = options.role;
    this.affiliation = options.affiliation;
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
  }

  /** Removes a session; the most recently added remaining one becomes primary. */
  removeSession(fullJid: string): void {
    this.sessions.delete(fullJid);
    if (this.#primary === fullJid) {
      let last = "";
      for (const jid of this.sessions.keys()) last = jid;
      this.#primary = last;
    }
  }
}
