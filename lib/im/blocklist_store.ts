// Blocklists (XEP-0191): the JIDs each user blocks.
import type { DatabaseSync } from "node:sqlite";
import { text, transaction } from "../storage/sql.ts";

/** Where blocklists live. Usernames are prepared localparts, items prepared JIDs. */
export interface BlocklistStore {
  /** The user's blocked JIDs, sorted. */
  list(username: string): string[];
  /** Adds JIDs (already blocked ones are kept once). */
  add(username: string, jids: readonly string[]): void;
  /** Removes JIDs; all of them when `jids` is undefined. */
  remove(username: string, jids?: readonly string[]): void;
}

/** {@linkcode BlocklistStore} on the `blocklist` table. */
export class SqliteBlocklistStore implements BlocklistStore {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  list(username: string): string[] {
    return this.#db.prepare("SELECT jid FROM blocklist WHERE username = ? ORDER BY jid")
      .all(username).map((row) => text(row, "jid"));
  }

  add(username: string, jids: readonly string[]): void {
    transaction(this.#db, () => {
      const insert = this.#db.prepare(
        "INSERT INTO blocklist (username, jid) VALUES (?, ?) ON CONFLICT DO NOTHING",
      );
      for (const jid of jids) insert.run(username, jid);
    });
  }

  remove(username: string, jids?: readonly string[]): void {
    if (jids === undefined) {
      this.#db.prepare("DELETE FROM blocklist WHERE username = ?").run(username);
      return;
    }
    transaction(this.#db, () => {
      const remove = this.#db.prepare("DELETE FROM blocklist WHERE username = ? AND jid = ?");
      for (const jid of jids) remove.run(username, jid);
    });
  }
}
