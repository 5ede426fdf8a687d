// Rosters (RFC 6121 §2), their versions (§2.6) and pending inbound subscription requests (§3.1.3).
import type { DatabaseSync, SQLOutputValue } from "node:sqlite";
import { integer, text, textOrNull, transaction } from "./sql.ts";

/** The subscription state of a roster item (RFC 6121 §2.1.2.5). */
export type Subscription = "none" | "to" | "from" | "both";

/** One contact in a user's roster. */
export interface StoredRosterItem {
  /** Bare JID of the contact. */
  jid: string;
  /** Handle the user gave the contact; undefined when none. */
  name?: string;
  subscription: Subscription;
  /** An outbound subscription request is pending (`ask='subscribe'`). */
  ask: boolean;
  /** The user pre-approved the contact's subscription request (RFC 6121 §3.4). */
  approved: boolean;
  /** Group names, in the order the client gave them. */
  groups: string[];
}

/** An inbound subscription request kept until the user answers it. */
export interface PendingRequest {
  /** Bare JID of the requester. */
  contact: string;
  /** The whole presence stanza as XML, with its status text and extensions. */
  stanza: string;
}

/**
 * Where rosters live. Usernames are localparts, contacts bare JIDs, both already prepared.
 * Every change to the items bumps the user's roster version and returns the new one.
 */
export interface RosterStore {
  /** The user's items, sorted by contact JID. */
  items(username: string): StoredRosterItem[];
  /** One item, or undefined if `contact` is not in the user's roster. */
  item(username: string, contact: string): StoredRosterItem | undefined;
  /** The current roster version (0 for a roster never changed). */
  version(username: string): number;
  /** Inserts or replaces an item; returns the new roster version. */
  put(username: string, item: StoredRosterItem): number;
  /** Deletes an item; returns the new roster version, or null if there was no such item. */
  remove(username: string, contact: string): number | null;
  /** Pending inbound requests, oldest first. */
  pending(username: string): PendingRequest[];
  /** Stores (or replaces) the pending request of `contact`. */
  addPending(username: string, request: PendingRequest): void;
  /** Forgets the pending request of `contact`; returns whether there was one. */
  removePending(username: string, contact: string): boolean;
  /**
   * Removes `contact` from every roster and pending list (a deleted local account), bumping the
   * versions of the rosters that held it; returns those users.
   */
  forgetContact(contact: string): string[];
}

/** {@linkcode RosterStore} on `roster_items`, `roster_versions` and `subscription_requests`. */
export class SqliteRosterStore implements RosterStore {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  items(username: string): StoredRosterItem[] {
    return this.#db.prepare(
      "SELECT contact, name, subscription, ask, approved, groups FROM roster_items " +
        "WHERE username = ? ORDER BY contact",
    ).all(username).map(readItem);
  }

  item(username: string, contact: string): StoredRosterItem | undefined {
    const row = this.#db.prepare(
      "SELECT contact, name, subscription, ask, approved, groups FROM roster_items " +
        "WHERE username = ? AND contact = ?",
    ).get(username, contact);
    return row === undefined ? undefined : readItem(row);
  }

  version(username: string): number {
    const row = this.#db.prepare("SELECT version FROM roster_versions WHERE username = ?")
      .get(username);
    return row === undefined ? 0 : integer(row, "version");
  }

  put(username: string, item: StoredRosterItem): number {
    return transaction(this.#db, () => {
      this.#db.prepare(
        "INSERT INTO roster_items (username, contact, name, subscription, ask, approved, groups) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (username, contact) DO UPDATE SET " +
          "name = excluded.name, subscription = excluded.subscription, ask = excluded.ask, " +
          "approved = excluded.approved, groups = excluded.groups",
      ).run(
        username,
        item.jid,
        item.name ?? null,
        item.subscription,
        item.ask ? "subscribe" : null,
        item.approved ? 1 : 0,
        JSON.stringify(item.groups),
      );
      return this.#bump(username);
    });
  }

  remove(username: string, contact: string): number | null {
    return transaction(this.#db, () => {
      const result = this.#db.prepare(
        "DELETE FROM roster_items WHERE username = ? AND contact = ?",
      ).run(username, contact);
      return Number(result.changes) > 0 ? this.#bump(username) : null;
    });
  }

  pending(username: string): PendingRequest[] {
    return this.#db.prepare(
      "SELECT contact, stanza FROM subscription_requests WHERE username = ? " +
        "ORDER BY received_at, rowid",
    ).all(username).map((row) => ({ contact: text(row, "contact"), stanza: text(row, "stanza") }));
  }

  addPending(username: string, request: PendingRequest): void {
    this.#db.prepare(
      "INSERT INTO subscription_requests (username, contact, stanza, received_at) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (username, contact) DO UPDATE SET stanza = excluded.stanza",
    ).run(username, request.contact, request.stanza, Date.now());
  }

  removePending(username: string, contact: string): boolean {
    const result = this.#db.prepare(
      "DELETE FROM subscription_requests WHERE username = ? AND contact = ?",
    ).run(username, contact);
    return Number(result.changes) > 0;
  }

  forgetContact(contact: string): string[] {
    return transaction(this.#db, () => {
      const holders = this.#db.prepare("SELECT username FROM roster_items WHERE contact = ?")
        .all(contact).map((row) => text(row, "username"));
      this.#db.prepare("DELETE FROM roster_items WHERE contact = ?").run(contact);
      this.#db.prepare("DELETE FROM subscription_requests WHERE contact = ?").run(contact);
      for (const username of holders) this.#bump(username);
      return holders;
    });
  }

  #bump(username: string): number {
    const row = this.#db.prepare(
      "INSERT INTO roster_versions (username, version) VALUES (?, 1) " +
        "ON CONFLICT (username) DO UPDATE SET version = version + 1 RETURNING version",
    ).get(username);
    if (row === undefined) throw new Error(`Cannot bump roster version of "${username}"`);
    return integer(row, "version");
  }
}

const SUBSCRIPTIONS: readonly string[] = ["none", "to", "from", "both"];

function readItem(row: Record<string, SQLOutputValue>): StoredRosterItem {
  const subscription = text(row, "subscription");
  if (!SUBSCRIPTIONS.includes(subscription)) {
    throw new TypeError(`Cannot read roster item: unknown subscription "${subscription}"`);
  }
  const groups: unknown = JSON.parse(text(row, "groups"));
  const item: StoredRosterItem = {
    jid: text(row, "contact"),
    subscription: subscription as Subscription,
    ask: textOrNull(row, "ask") === "subscribe",
    approved: integer(row, "approved") !== 0,
    groups: Array.isArray(groups) ? groups.filter((g) => typeof g === "string") : [],
  };
  const name = textOrNull(row, "name");
  if (name !== null) item.name = name;
  return item;
}
