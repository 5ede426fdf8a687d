// The upload service's metadata (XEP-0363 §4 slots, §7 the files uploaded into them): one row per slot
// issued, which becomes the file's row once its PUT has completed. The bytes live on disk
// (files.ts), named by the slot id; this table says whose they are, what they are called, their
// type and size, and until when they are served.
import type { DatabaseSync } from "node:sqlite";

/** The module's tables, oldest step first (applied by the module loader; never edit a step). */
export const HTTP_UPLOAD_MIGRATIONS: readonly string[] = [
  // No foreign key to accounts: removing an account must also remove its files, which needs the
  // rows (accounts.onRemoved); rows left by an account removed while the server was down are
  // found by the sweep (orphans()).
  `CREATE TABLE http_uploads (
    id TEXT PRIMARY KEY,            -- the slot id: 128 random bits, base64url; also the file name
    username TEXT NOT NULL,         -- the uploader's localpart
    filename TEXT NOT NULL,         -- as requested, for the URL and Content-Disposition
    size INTEGER NOT NULL,          -- bytes, exactly, as requested
    content_type TEXT,              -- as requested; NULL when the request named none
    token_hash TEXT NOT NULL,       -- SHA-256 (hex) of the PUT's bearer token
    created_at INTEGER NOT NULL,    -- Unix ms, when the slot was issued
    slot_expires_at INTEGER NOT NULL, -- Unix ms, the PUT must start before
    uploaded_at INTEGER,            -- Unix ms, when the PUT completed; NULL while it has not
    expires_at INTEGER              -- Unix ms, when the file goes; NULL keeps it (before the
                                    -- upload: the ephemeral purpose's expire-before, if any)
  );
  CREATE INDEX http_uploads_user ON http_uploads (username, created_at);
  CREATE INDEX http_uploads_slot_expiry ON http_uploads (slot_expires_at) WHERE uploaded_at IS NULL;
  CREATE INDEX http_uploads_expiry ON http_uploads (expires_at) WHERE expires_at IS NOT NULL;`,
];

/** One slot, or the file uploaded into it. */
export interface UploadRecord {
  id: string;
  username: string;
  filename: string;
  size: number;
  contentType: string | null;
  tokenHash: string;
  createdAt: number;
  slotExpiresAt: number;
  uploadedAt: number | null;
  expiresAt: number | null;
}

type Row = Record<string, string | number | null>;

function record(row: Row): UploadRecord {
  return {
    id: row.id as string,
    username: row.username as string,
    filename: row.filename as string,
    size: row.size as number,
    contentType: row.content_type as string | null,
    tokenHash: row.token_hash as string,
    createdAt: row.created_at as number,
    slotExpiresAt: row.slot_expires_at as number,
    uploadedAt: row.uploaded_at as number | null,
    expiresAt: row.expires_at as number | null,
  };
}

/** The `http_uploads` table. */
export class UploadStore {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Records a new slot. */
  add(slot: Omit<UploadRecord, "uploadedAt" | "expiresAt"> & { expiresAt?: number | null }): void {
    this.#db.prepare(
      `INSERT INTO http_uploads (id, username, filename, size, content_type, token_hash,
        created_at, slot_expires_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      slot.id,
      slot.username,
      slot.filename,
      slot.size,
      slot.contentType,
      slot.tokenHash,
      slot.createdAt,
      slot.slotExpiresAt,
      slot.expiresAt ?? null,
    );
  }

  get(id: string): UploadRecord | undefined {
    const row = this.#db.prepare("SELECT * FROM http_uploads WHERE id = ?").get(id);
    return row === undefined ? undefined : record(row as Row);
  }

  /**
   * Marks the slot's file as uploaded, to expire at `expiresAt` (null: never) or at the slot's
   * expire-before if that is earlier; false if it already was uploaded, or is gone.
   */
  complete(id: string, at: number, expiresAt: number | null): boolean {
    const result = this.#db.prepare(
      `UPDATE http_uploads SET uploaded_at = ?1,
        expires_at = CASE WHEN expires_at IS NULL THEN ?2 WHEN ?2 IS NULL THEN expires_at
          ELSE MIN(expires_at, ?2) END
        WHERE id = ?3 AND uploaded_at IS NULL`,
    ).run(at, expiresAt, id);
    return Number(result.changes) === 1;
  }

  /**
   * Bytes a user holds at `now`: uploaded files not yet expired, and slots that may still be
   * used (a slot reserves its size, so that many slots asked for at once cannot pass the quota).
   */
  bytesHeld(username: string, now: number): number {
    const row = this.#db.prepare(
      `SELECT COALESCE(SUM(size), 0) AS bytes FROM http_uploads WHERE username = ?
        AND (uploaded_at IS NOT NULL AND (expires_at IS NULL OR expires_at > ?)
          OR uploaded_at IS NULL AND slot_expires_at > ?)`,
    ).get(username, now, now) as { bytes: number };
    return row.bytes;
  }

  /**
   * Bytes a user asked for since `since` (the daily quota): files uploaded (until the sweep
   * removes them) and slots that may still be used.
   */
  bytesSince(username: string, since: number, now: number): number {
    const row = this.#db.prepare(
      `SELECT COALESCE(SUM(size), 0) AS bytes FROM http_uploads WHERE username = ?
        AND created_at >= ? AND (uploaded_at IS NOT NULL OR slot_expires_at > ?)`,
    ).get(username, since, now) as { bytes: number };
    return row.bytes;
  }

  /** Every record of a user (their files go with their account). */
  ofUser(username: string): UploadRecord[] {
    return (this.#db.prepare("SELECT * FROM http_uploads WHERE username = ?").all(
      username,
    ) as Row[])
      .map(record);
  }

  /**
   * Up to `limit` records past their time at `now`: files past `expires_at`, slots unused past
   * `slot_expires_at`.
   */
  expired(now: number, limit: number): UploadRecord[] {
    return (this.#db.prepare(
      `SELECT * FROM http_uploads WHERE expires_at IS NOT NULL AND expires_at <= ?
        UNION ALL SELECT * FROM http_uploads WHERE uploaded_at IS NULL AND slot_expires_at <= ?
        LIMIT ?`,
    ).all(now, now, limit) as Row[]).map(record);
  }

  /** Up to `limit` records whose account no longer exists (removed while the server was down). */
  orphans(limit: number): UploadRecord[] {
    return (this.#db.prepare(
      `SELECT * FROM http_uploads WHERE username NOT IN (SELECT username FROM accounts) LIMIT ?`,
    ).all(limit) as Row[]).map(record);
  }

  remove(id: string): void {
    this.#db.prepare("DELETE FROM http_uploads WHERE id = ?").run(id);
  }

  /** Whether a row of this id exists (the sweep keeps the files of those that do). */
  has(id: string): boolean {
    return this.#db.prepare("SELECT 1 FROM http_uploads WHERE id = ?").get(id) !== undefined;
  }

  /** Files stored (uploaded) and their bytes, for the metrics. */
  totals(): { files: number; bytes: number } {
    const row = this.#db.prepare(
      `SELECT COUNT(*) AS files, COALESCE(SUM(size), 0) AS bytes FROM http_uploads
        WHERE uploaded_at IS NOT NULL`,
    ).get() as { files: number; bytes: number };
    return { files: row.files, bytes: row.bytes };
  }
}
