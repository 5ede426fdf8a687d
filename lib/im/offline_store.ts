// Offline messages (XEP-0160, RFC 6121 §8.5.2.1.1): kept for a user until their next login.
import type { DatabaseSync } from "node:sqlite";
import { integer, text, transaction } from "../storage/sql.ts";

/** Where messages for offline users wait. Usernames are prepared localparts. */
export interface OfflineStore {
  /** How many messages wait for the user. */
  count(username: string): number;
  /** Stores a message (serialized XML). */
  add(username: string, stanza: string): void;
  /** Removes and returns every waiting message, oldest first. */
  take(username: string): string[];
}

/** {@linkcode OfflineStore} on the `offline_messages` table. */
export class SqliteOfflineStore implements OfflineStore {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  count(username: string): number {
    const row = this.#db.prepare(
      "SELECT COUNT(*) AS n FROM offline_messages WHERE username = ?",
    ).get(username);
    return row === undefined ? 0 : integer(row, "n");
  }

  add(username: string, stanza: string): void {
    this.#db.prepare(
      "INSERT INTO offline_messages (username, stanza, stored_at) VALUES (?, ?, ?)",
    ).run(username, stanza, Date.now());
  }

  take(username: string): string[] {
    // Most logins find nothing: one indexed lookup then, not a write transaction.
    const any = this.#db.prepare("SELECT 1 FROM offline_messages WHERE username = ? LIMIT 1")
      .get(username);
    if (any === undefined) return [];
    return transaction(this.#db, () => {
      const rows = this.#db.prepare(
        "SELECT stanza FROM offline_messages WHERE username = ? ORDER BY id",
      ).all(username);
      if (rows.length > 0) {
        this.#db.prepare("DELETE FROM offline_messages WHERE username = ?").run(username);
      }
      return rows.map((row) => text(row, "stanza"));
    });
  }
}
