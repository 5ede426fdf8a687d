// Persistent MUC rooms (XEP-0045 §10.1.3 persistent rooms): configuration, subject, affiliations,
// and discussion history (§7.2.15).
import type { DatabaseSync, SQLOutputValue } from "node:sqlite";
import { text, textOrNull, transaction } from "./sql.ts";

/** The four stored affiliations, highest first (XEP-0045 §5.2). "none" is never stored. */
export const AFFILIATIONS = ["owner", "admin", "member", "outcast"] as const;

/** An affiliation that is kept across restarts. */
export type StoredAffiliationKind = typeof AFFILIATIONS[number];

/** One bare JID's affiliation with a room. */
export interface StoredAffiliation {
  jid: string;
  affiliation: StoredAffiliationKind;
  /** Reserved nickname (XEP-0045 §7.12). */
  nick?: string;
  reason?: string;
}

/** Everything about a persistent room that survives a restart. */
export interface StoredRoom {
  /** Bare room JID, e.g. `coven@conference.example.org`. */
  jid: string;
  /** Room options, owned by the MUC features; must survive JSON round-tripping. */
  config: Record<string, unknown>;
  /** From `hashSecret()` in secrets.ts; never the password itself. */
  passwordHash: string | null;
  subject: string | null;
  /** Occupant JID (room@service/nick) that set the subject. */
  subjectFrom: string | null;
  affiliations: StoredAffiliation[];
}

/** One groupchat message of a room's discussion history. */
export interface StoredHistoryEntry {
  /** Nickname of the sender. */
  nick: string;
  /** The message as broadcast, serialized without a `to`. */
  stanza: string;
  /** Unix time in milliseconds. */
  stamp: number;
}

/** Where persistent rooms live. */
export interface RoomStore {
  /** All rooms, sorted by JID. */
  loadAll(): StoredRoom[];
  /** One room, or null if none is stored under `jid`. */
  load(jid: string): StoredRoom | null;
  /** Inserts or updates a room and replaces its affiliations, atomically. */
  save(room: StoredRoom): void;
  /** Deletes a room, its affiliations and its history; does nothing if it is not stored. */
  remove(jid: string): void;
  /** Appends a message to a stored room's history; throws if the room is not stored. */
  appendHistory(room: string, entry: StoredHistoryEntry): void;
  /** The newest `limit` messages of a room's history, oldest first. */
  loadHistory(room: string, limit: number): StoredHistoryEntry[];
  /** Keeps only the newest `keep` messages of a room's history. */
  trimHistory(room: string, keep: number): void;
}

/** {@linkcode RoomStore} on the `muc_rooms` and `muc_affiliations` tables. */
export class SqliteRoomStore implements RoomStore {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  loadAll(): StoredRoom[] {
    const rooms = this.#db.prepare(
      "SELECT jid, config, password_hash, subject, subject_from FROM muc_rooms ORDER BY jid",
    ).all().map(readRoom);
    const byJid = new Map(rooms.map((room) => [room.jid, room]));
    // rowid order is insertion order, and save() inserts affiliations in the order given.
    const rows = this.#db.prepare(
      "SELECT room, jid, affiliation, nick, reason FROM muc_affiliations ORDER BY room, rowid",
    ).all();
    for (const row of rows) byJid.get(text(row, "room"))?.affiliations.push(readAffiliation(row));
    return rooms;
  }

  load(jid: string): StoredRoom | null {
    const row = this.#db.prepare(
      "SELECT jid, config, password_hash, subject, subject_from FROM muc_rooms WHERE jid = ?",
    ).get(jid);
    if (row === undefined) return null;
    const room = readRoom(row);
    room.affiliations = this.#db.prepare(
      "SELECT jid, affiliation, nick, reason FROM muc_affiliations WHERE room = ? ORDER BY rowid",
    ).all(jid).map(readAffiliation);
    return room;
  }

  save(room: StoredRoom): void {
    const config = JSON.stringify(room.config);
    checkAffiliations(room);
    transaction(this.#db, () => {
      const now = Date.now();
      this.#db.prepare(
        "INSERT INTO muc_rooms " +
          "(jid, config, password_hash, subject, subject_from, created_at, updated_at) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?) " +
          "ON CONFLICT (jid) DO UPDATE SET config = excluded.config, " +
          "password_hash = excluded.password_hash, subject = excluded.subject, " +
          "subject_from = excluded.subject_from, updated_at = excluded.updated_at",
      ).run(room.jid, config, room.passwordHash, room.subject, room.subjectFrom, now, now);
      this.#db.prepare("DELETE FROM muc_affiliations WHERE room = ?").run(room.jid);
      const insert = this.#db.prepare(
        "INSERT INTO muc_affiliations (room, jid, affiliation, nick, reason) VALUES (?, ?, ?, ?, ?)",
      );
      for (const a of room.affiliations) {
        insert.run(room.jid, a.jid, a.affiliation, a.nick ?? null, a.reason ?? null);
      }
    });
  }

  remove(jid: string): void {
    // Affiliations and history go with the room: ON DELETE CASCADE.
    this.#db.prepare("DELETE FROM muc_rooms WHERE jid = ?").run(jid);
  }

  appendHistory(room: string, entry: StoredHistoryEntry): void {
    this.#db.prepare("INSERT INTO muc_history (room, nick, stanza, stamp) VALUES (?, ?, ?, ?)")
      .run(room, entry.nick, entry.stanza, entry.stamp);
  }

  loadHistory(room: string, limit: number): StoredHistoryEntry[] {
    if (limit <= 0) return [];
    return this.#db.prepare(
      "SELECT nick, stanza, stamp FROM muc_history WHERE room = ? ORDER BY id DESC LIMIT ?",
    ).all(room, limit).reverse().map((row) => ({
      nick: text(row, "nick"),
      stanza: text(row, "stanza"),
      stamp: Number(row.stamp),
    }));
  }

  trimHistory(room: string, keep: number): void {
    this.#db.prepare(
      "DELETE FROM muc_history WHERE room = ? AND id NOT IN " +
        "(SELECT id FROM muc_history WHERE room = ? ORDER BY id DESC LIMIT ?)",
    ).run(room, room, Math.max(0, keep));
  }
}

/**
 * {@linkcode RoomStore} in memory, for tests. Keeps deep copies, so callers mutating their objects
 * cannot change what is "stored", just as with SQLite.
 */
export class MemoryRoomStore implements RoomStore {
  #rooms = new Map<string, StoredRoom>();
  #history = new Map<string, StoredHistoryEntry[]>();

  loadAll(): StoredRoom[] {
    return [...this.#rooms.entries()]
      .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
      .map(([, room]) => structuredClone(room));
  }

  load(jid: string): StoredRoom | null {
    const room = this.#rooms.get(jid);
    return room === undefined ? null : structuredClone(room);
  }

  save(room: StoredRoom): void {
    checkAffiliations(room);
    // Through JSON like SqliteRoomStore, so a config that would not survive SQLite fails here too.
    const config = JSON.parse(JSON.stringify(room.config));
    this.#rooms.set(room.jid, { ...structuredClone(room), config });
  }

  remove(jid: string): void {
    this.#rooms.delete(jid);
    this.#history.delete(jid);
  }

  appendHistory(room: string, entry: StoredHistoryEntry): void {
    if (!this.#rooms.has(room)) {
      throw new Error(`Cannot append history to room "${room}": it is not stored`);
    }
    const list = this.#history.get(room) ?? [];
    list.push({ ...entry });
    this.#history.set(room, list);
  }

  loadHistory(room: string, limit: number): StoredHistoryEntry[] {
    if (limit <= 0) return [];
    return (this.#history.get(room) ?? []).slice(-limit).map((entry) => ({ ...entry }));
  }

  trimHistory(room: string, keep: number): void {
    const list = this.#history.get(room);
    if (list !== undefined) list.splice(0, Math.max(0, list.length - Math.max(0, keep)));
  }
}

type Row = Record<string, SQLOutputValue>;

function readRoom(row: Row): StoredRoom {
  const jid = text(row, "jid");
  const config: unknown = JSON.parse(text(row, "config"));
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new Error(`Cannot load room "${jid}": config is not a JSON object`);
  }
  return {
    jid,
    config: config as Record<string, unknown>,
    passwordHash: textOrNull(row, "password_hash"),
    subject: textOrNull(row, "subject"),
    subjectFrom: textOrNull(row, "subject_from"),
    affiliations: [],
  };
}

function readAffiliation(row: Row): StoredAffiliation {
  const jid = text(row, "jid");
  const affiliation = text(row, "affiliation");
  if (!isAffiliation(affiliation)) {
    throw new Error(`Cannot load affiliation of "${jid}": unknown affiliation "${affiliation}"`);
  }
  const result: StoredAffiliation = { jid, affiliation };
  const nick = textOrNull(row, "nick");
  const reason = textOrNull(row, "reason");
  if (nick !== null) result.nick = nick;
  if (reason !== null) result.reason = reason;
  return result;
}

function isAffiliation(value: string): value is StoredAffiliationKind {
  return (AFFILIATIONS as readonly string[]).includes(value);
}

function checkAffiliations(room: StoredRoom): void {
  const seen = new Set<string>();
  for (const a of room.affiliations) {
    if (!isAffiliation(a.affiliation)) {
      throw new Error(
        `Cannot save room "${room.jid}": unknown affiliation "${a.affiliation}" for "${a.jid}"`,
      );
    }
    if (seen.has(a.jid)) {
      throw new Error(`Cannot save room "${room.jid}": "${a.jid}" is affiliated twice`);
    }
    seen.add(a.jid);
  }
}
