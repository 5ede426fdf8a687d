// Read-only facts about an account from the instant-messaging tables (schema v2), for services
// that need one answer from data another module owns, and for `verona user show`.
import type { DatabaseSync } from "node:sqlite";
import { integer } from "./sql.ts";

/** Counts and checks over `accounts`, `roster_items` and `offline_messages`. */
export class SqliteAccountFacts {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** When the account was created (Unix ms), or null if there is no such account. */
  createdAt(username: string): number | null {
    const row = this.#db.prepare("SELECT created_at FROM accounts WHERE username = ?")
      .get(username);
    return row === undefined ? null : integer(row, "created_at");
  }

  /** Contacts on the account's roster. */
  rosterCount(username: string): number {
    return this.#count("SELECT count(*) AS n FROM roster_items WHERE username = ?", username);
  }

  /** Messages stored for the account while it was offline. */
  offlineCount(username: string): number {
    return this.#count("SELECT count(*) AS n FROM offline_messages WHERE username = ?", username);
  }

  /**
   * Whether `contact` (a bare JID) may see the account's presence: subscription `from` or
   * `both` on the account's roster (RFC 6121 §3).
   */
  canSeePresence(username: string, contact: string): boolean {
    return this.#db.prepare(
      "SELECT 1 FROM roster_items WHERE username = ? AND contact = ? " +
        "AND subscription IN ('from', 'both')",
    ).get(username, contact) !== undefined;
  }

  #count(sql: string, username: string): number {
    const row = this.#db.prepare(sql).get(username);
    return row === undefined ? 0 : integer(row, "n");
  }
}
