// Last logout per account, for Last Activity (XEP-0012 §4) and the admin's `user show`.
import type { DatabaseSync } from "node:sqlite";
import { integer, textOrNull } from "./sql.ts";

/** When an account's last session ended, and the status text it left with. */
export interface LastActivity {
  /** Unix time in milliseconds. */
  logoutAt: number;
  /** The `<status/>` of its last unavailable presence, if it had one. */
  status: string | null;
}

/** Where last logouts live. Usernames are prepared JID localparts of existing accounts. */
export interface LastActivityStore {
  /** The last logout, or null if the account never logged out. */
  get(username: string): LastActivity | null;
  /** Records a logout. */
  set(username: string, activity: LastActivity): void;
}

/** {@linkcode LastActivityStore} on the `last_activity` table (ON DELETE CASCADE). */
export class SqliteLastActivityStore implements LastActivityStore {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  get(username: string): LastActivity | null {
    const row = this.#db.prepare(
      "SELECT logout_at, status FROM last_activity WHERE username = ?",
    ).get(username);
    if (row === undefined) return null;
    return { logoutAt: integer(row, "logout_at"), status: textOrNull(row, "status") };
  }

  set(username: string, activity: LastActivity): void {
    this.#db.prepare(
      "INSERT INTO last_activity (username, logout_at, status) VALUES (?, ?, ?) " +
        "ON CONFLICT (username) DO UPDATE SET logout_at = excluded.logout_at, " +
        "status = excluded.status",
    ).run(username, activity.logoutAt, activity.status);
  }
}
