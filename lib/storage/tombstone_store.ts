// Names of removed accounts, reserved for a while so nobody takes one over at once (XEP-0077 §3.2).
import type { DatabaseSync } from "node:sqlite";
import { integer } from "./sql.ts";

/** Where tombstones live. No foreign key: the account is gone. */
export interface TombstoneStore {
  /** When `username` was removed (Unix ms), or null if it has no tombstone. */
  removedAt(username: string): number | null;
  /** Records that `username` was removed at `at` (Unix ms), replacing an older tombstone. */
  add(username: string, at: number): void;
  /** Forgets every tombstone older than `before` (Unix ms); returns how many went. */
  purge(before: number): number;
}

/** {@linkcode TombstoneStore} on the `account_tombstones` table. */
export class SqliteTombstoneStore implements TombstoneStore {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  removedAt(username: string): number | null {
    const row = this.#db.prepare(
      "SELECT removed_at FROM account_tombstones WHERE username = ?",
    ).get(username);
    return row === undefined ? null : integer(row, "removed_at");
  }

  add(username: string, at: number): void {
    this.#db.prepare(
      "INSERT INTO account_tombstones (username, removed_at) VALUES (?, ?) " +
        "ON CONFLICT (username) DO UPDATE SET removed_at = excluded.removed_at",
    ).run(username, at);
  }

  purge(before: number): number {
    const result = this.#db.prepare("DELETE FROM account_tombstones WHERE removed_at < ?")
      .run(before);
    return Number(result.changes);
  }
}
