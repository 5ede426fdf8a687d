// The running server's bound sessions, written on bind and unbind so that admin commands in
// another process can list them (`verona user show`). The server process is the only writer.
import type { DatabaseSync } from "node:sqlite";
import { integer, text } from "./_sql.ts";

/** One bound session as recorded. */
export interface SessionRecord {
  /** The full JID. */
  jid: string;
  /** The c2s stream id, as in the server log. */
  streamId: string;
  /** Unix time in milliseconds. */
  boundAt: number;
}

/** Where the live sessions are recorded. */
export interface SessionStore {
  /** Records a bound session, replacing a record of the same full JID. */
  bound(username: string, session: SessionRecord): void;
  /** Forgets a session, only if the full JID is still recorded for that stream. */
  ended(jid: string, streamId: string): void;
  /** Forgets every session (server start and stop). */
  clear(): void;
  /** The recorded sessions of an account, oldest first. */
  of(username: string): SessionRecord[];
}

/** {@linkcode SessionStore} on the `sessions` table (schema v3). */
export class SqliteSessionStore implements SessionStore {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  bound(username: string, session: SessionRecord): void {
    this.#db.prepare(
      "INSERT OR REPLACE INTO sessions (jid, username, stream_id, bound_at) VALUES (?, ?, ?, ?)",
    ).run(session.jid, username, session.streamId, session.boundAt);
  }

  ended(jid: string, streamId: string): void {
    this.#db.prepare("DELETE FROM sessions WHERE jid = ? AND stream_id = ?").run(jid, streamId);
  }

  clear(): void {
    this.#db.exec("DELETE FROM sessions");
  }

  of(username: string): SessionRecord[] {
    return this.#db.prepare(
      "SELECT jid, stream_id, bound_at FROM sessions WHERE username = ? ORDER BY bound_at, jid",
    ).all(username).map((row) => ({
      jid: text(row, "jid"),
      streamId: text(row, "stream_id"),
      boundAt: integer(row, "bound_at"),
    }));
  }
}
