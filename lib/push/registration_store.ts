// Push registrations (XEP-0357 §5, §6): per account, one row per app server JID and node, with
// the publish-options form the client gave (§5), sent again with each notification (§7). Rows
// go with their account (cascade from `accounts`).
import type { DatabaseSync, SQLOutputValue } from "node:sqlite";
import { integer, text, textOrNull } from "../storage/sql.ts";

/** The module's own tables, oldest step first (see `ServerModule.migrations`). */
export const PUSH_MIGRATIONS: readonly string[] = [
  // v1: registrations.
  `
  CREATE TABLE push_registrations (
    owner TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
    jid TEXT NOT NULL, -- the app server (XMPP Push Service), prepared: a full, bare or domain JID
    node TEXT NOT NULL, -- its PubSub node for this device
    options TEXT, -- the publish-options form as XML, or NULL
    created_at INTEGER NOT NULL, -- Unix time in milliseconds
    PRIMARY KEY (owner, jid, node)
  );
  `,
];

/** One registration. */
export interface PushRegistration {
  /** The account's username (localpart). */
  owner: string;
  /** The app server's JID. */
  jid: string;
  node: string;
  /** The publish-options data form as XML (§5), if the client gave one. */
  options: string | null;
}

/** Where registrations are kept. */
export interface PushStore {
  /** Adds a registration, or replaces the options of the same owner, JID and node (§5). */
  put(registration: PushRegistration): void;
  /** One registration, or null. */
  get(owner: string, jid: string, node: string): PushRegistration | null;
  /** Every registration of an account, oldest first. */
  list(owner: string): PushRegistration[];
  /** How many registrations an account has. */
  count(owner: string): number;
  /** Every registration in the server (for the metrics gauge). */
  total(): number;
  /** Removes one JID and node, or every node of a JID (§6); returns how many went. */
  remove(owner: string, jid: string, node?: string): number;
}

/** {@linkcode PushStore} in the server's SQLite database. */
export class SqlitePushStore implements PushStore {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  put({ owner, jid, node, options }: PushRegistration): void {
    this.#db.prepare(
      "INSERT INTO push_registrations (owner, jid, node, options, created_at) VALUES (?, ?, ?, ?, ?) " +
        "ON CONFLICT (owner, jid, node) DO UPDATE SET options = excluded.options",
    ).run(owner, jid, node, options, Date.now());
  }

  get(owner: string, jid: string, node: string): PushRegistration | null {
    const row = this.#db.prepare(
      "SELECT owner, jid, node, options FROM push_registrations WHERE owner = ? AND jid = ? AND node = ?",
    ).get(owner, jid, node);
    return row === undefined ? null : read(row);
  }

  list(owner: string): PushRegistration[] {
    return this.#db.prepare(
      "SELECT owner, jid, node, options FROM push_registrations WHERE owner = ? " +
        "ORDER BY created_at, jid, node",
    ).all(owner).map(read);
  }

  count(owner: string): number {
    const row = this.#db.prepare(
      "SELECT COUNT(*) AS n FROM push_registrations WHERE owner = ?",
    ).get(owner);
    return row === undefined ? 0 : integer(row, "n");
  }

  total(): number {
    const row = this.#db.prepare("SELECT COUNT(*) AS n FROM push_registrations").get();
    return row === undefined ? 0 : integer(row, "n");
  }

  remove(owner: string, jid: string, node?: string): number {
    const result = node === undefined
      ? this.#db.prepare("DELETE FROM push_registrations WHERE owner = ? AND jid = ?").run(
        owner,
        jid,
      )
      : this.#db.prepare(
        "DELETE FROM push_registrations WHERE owner = ? AND jid = ? AND node = ?",
      ).run(owner, jid, node);
    return Number(result.changes);
  }
}

function read(row: Record<string, SQLOutputValue>): PushRegistration {
  return {
    owner: text(row, "owner"),
    jid: text(row, "jid"),
    node: text(row, "node"),
    options: textOrNull(row, "options"),
  };
}
