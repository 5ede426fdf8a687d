// The message archive (XEP-0313 §3 "Message archives"): one row per archived message per
// account, kept in chronological order (§3.1), with unpredictable ids that are never reused
// (§6.2, XEP-0359 §3), and removed oldest first when they expire (§3.2).
//
// Order is the `seq` column (AUTOINCREMENT: never reused, even after deletion). `time` is kept
// non-decreasing in `seq` order (a clock that steps back is clamped), so that "ordered by time,
// then seq" and "ordered by seq" are the same order. The indexes (owner, time) and
// (owner, with_jid, time) carry the rowid `seq` as their last column, so a page is a range scan
// of one index in that order, without sorting, whatever the size of the archive.
import type { DatabaseSync, SQLInputValue, SQLOutputValue, StatementSync } from "node:sqlite";
import { integer, text, transaction } from "../storage/sql.ts";

/** The module's own tables, oldest step first (see `ServerModule.migrations`). */
export const MAM_MIGRATIONS: readonly string[] = [
  // v1: archived messages and archiving preferences. Both go with their account (cascade).
  `
  CREATE TABLE mam_archive (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, -- chronological order, never reused
    owner TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
    id TEXT NOT NULL, -- the archive id, also the XEP-0359 stanza-id
    time INTEGER NOT NULL, -- Unix time in milliseconds, non-decreasing in seq order
    with_jid TEXT NOT NULL, -- bare JID of the other party
    with_resource TEXT NOT NULL DEFAULT '', -- its resource, for queries by full JID
    direction TEXT NOT NULL, -- 'in' (received) or 'out' (sent)
    stanza TEXT NOT NULL -- the message as XML
  );
  CREATE UNIQUE INDEX mam_archive_by_id ON mam_archive (owner, id);
  CREATE INDEX mam_archive_by_time ON mam_archive (owner, time);
  CREATE INDEX mam_archive_by_with ON mam_archive (owner, with_jid, time);

  CREATE TABLE mam_prefs (
    owner TEXT PRIMARY KEY REFERENCES accounts(username) ON DELETE CASCADE,
    default_policy TEXT NOT NULL, -- always | roster | never
    always TEXT NOT NULL DEFAULT '[]', -- JSON array of bare JIDs
    never TEXT NOT NULL DEFAULT '[]' -- JSON array of bare JIDs
  );
  `,
];

/** One message to archive. */
export interface NewArchivedMessage {
  /** Bare JID of the other party. */
  with: string;
  /** Resource of the other party ("" when none). */
  withResource?: string;
  direction: "in" | "out";
  /** The message as XML. */
  stanza: string;
  /** When it was sent or received, Unix ms; default now. */
  time?: number;
  /** Its archive id, if the caller made one (unpredictable and unused); default a new one. */
  id?: string;
  /** The sender's real full JID, kept where the table has a `real_jid` column (rooms). */
  realJid?: string;
}

/** One archived message as read back. */
export interface ArchivedMessage {
  id: string;
  /** Unix ms. */
  time: number;
  with: string;
  direction: "in" | "out";
  stanza: string;
  /** The sender's real full JID, where the archive keeps it (rooms, XEP-0313 §6.1.2). */
  realJid?: string;
}

/** What a query selects (the result set, XEP-0313 §4.1) and which page of it (§4.3). */
export interface ArchiveQuery {
  /** Bare JID of the other party, and optionally its resource (§4.1.1). */
  with?: { bare: string; resource?: string };
  /** Unix ms, inclusive (§4.1.2). */
  start?: number;
  /** Unix ms, inclusive. */
  end?: number;
  /** Only messages after this one (#extended `after-id`, §4.1.3). */
  afterId?: string;
  /** Only messages before this one (#extended `before-id`). */
  beforeId?: string;
  /** Only these messages (#extended `ids`). */
  ids?: readonly string[];
  /** RSM `<after/>` (XEP-0059 §2.2): the page that follows this id. */
  after?: string;
  /** RSM `<before/>` (§2.3, §2.5): the page that precedes this id; "" is the last page. */
  before?: string;
  /** RSM `<index/>` (§2.6): the page that starts at this position of the result set. */
  index?: number;
  /** Items in the page; 0 asks for the count only (§2.7). */
  max: number;
}

/** One page of a result set. */
export interface ArchivePage {
  /** The page, in chronological order. */
  items: ArchivedMessage[];
  /**
   * Items of the whole result set (XEP-0059 `<count/>`); undefined past the store's
   * `countLimit`, where counting would cost more than the page (XEP-0059 §2.2 allows leaving it
   * out then).
   */
  count: number | undefined;
  /** Position of the first item in the result set (`<first index/>`); undefined likewise. */
  index: number | undefined;
  /** No further page in the direction of paging (XEP-0313 §4.3.2 `complete`). */
  complete: boolean;
}

/** An id named in a query is not in the archive (XEP-0313 §4.1.3, §4.3.2: item-not-found). */
export class UnknownArchiveId extends Error {
  override name = "UnknownArchiveId";
}

/** Archiving preferences (XEP-0441, the `urn:xmpp:mam:2` `<prefs/>` element). */
export interface ArchivePrefs {
  default: ArchivePolicy;
  /** Bare JIDs always archived. */
  always: string[];
  /** Bare JIDs never archived (wins over `always`). */
  never: string[];
}

/** Which messages are archived by default. */
export type ArchivePolicy = "always" | "roster" | "never";

/** Where archives live. Owners are prepared localparts of local accounts. */
export interface ArchiveStore {
  /** Archives a message and returns its new, unpredictable id (written by the next flush). */
  append(owner: string, message: NewArchivedMessage): string;
  /** Writes what was appended (at most `limit` rows); reads write all of it first. */
  flush(limit?: number): void;
  /** One page of the messages a query selects. @throws {UnknownArchiveId} */
  find(owner: string, query: ArchiveQuery): ArchivePage;
  /** The oldest and newest messages, or null for an empty archive (XEP-0313 §5). */
  bounds(owner: string): { first: ArchivedMessage; last: ArchivedMessage } | null;
  /** Deletes up to `limit` of the oldest messages older than `before` (Unix ms), all owners. */
  prune(before: number, limit: number): number;
  /** Deletes every message of one owner. */
  clear(owner: string): void;
  prefs(owner: string): ArchivePrefs | null;
  setPrefs(owner: string, prefs: ArchivePrefs): void;
}

type Row = Record<string, SQLOutputValue>;
type Position = { seq: number; time: number };

const COLUMNS = "seq, id, time, with_jid, direction, stanza";
/** Rows written per background flush. */
const FLUSH_BATCH = 256;
/**
 * Rows waiting at most. Under a load faster than the background flushes, appends write the
 * queue themselves past this: memory stays bounded, the senders are slowed by the writes, and
 * a stop has at most this many rows to write.
 */
export const MAX_PENDING_ROWS = 4096;

/** {@linkcode ArchiveStore} on the `mam_archive` and `mam_prefs` tables. */
export class SqliteArchiveStore implements ArchiveStore {
  #db: DatabaseSync;
  #statements = new Map<string, StatementSync>();
  /** The latest time archived, so that time never goes back in seq order. */
  #last: number;
  #newId: () => string;
  #pending: SQLInputValue[][] = [];
  /** Owners with a `mam_prefs` row (or that had one: their account may have gone since). */
  #withPrefs: Set<string>;
  #onError: (owner: string, error: unknown) => void;
  #countLimit: number;
  #table: string;
  #prefsTable: string | null;
  #columns: string;
  #realJids: boolean;

  constructor(
    db: DatabaseSync,
    options: {
      newId?: () => string;
      /** A message that could not be written (default: thrown away silently). */
      onError?: (owner: string, error: unknown) => void;
      /**
       * Result sets larger than this are not counted (no RSM count and index): counting a
       * million rows takes tens of milliseconds of the event loop. Default 10,000.
       */
      countLimit?: number;
      /**
       * The archive's table, created as `mam_archive` is but without its reference to accounts
       * (e.g. rooms' archives); default `mam_archive`.
       */
      table?: string;
      /** The preferences' table, or null for archives without preferences; default `mam_prefs`. */
      prefsTable?: string | null;
      /** The table has a `real_jid` column, written from and read into `realJid` (rooms). */
      realJids?: boolean;
    } = {},
  ) {
    this.#db = db;
    this.#newId = options.newId ?? (() => crypto.randomUUID());
    this.#onError = options.onError ?? (() => {});
    this.#countLimit = options.countLimit ?? 10_000;
    this.#table = options.table ?? "mam_archive";
    this.#prefsTable = options.prefsTable === undefined ? "mam_prefs" : options.prefsTable;
    this.#realJids = options.realJids ?? false;
    this.#columns = this.#realJids ? `${COLUMNS}, real_jid` : COLUMNS;
    this.#withPrefs = new Set(
      this.#prefsTable === null
        ? []
        : this.#sql(`SELECT owner FROM ${this.#prefsTable}`).all().map((row) => text(row, "owner")),
    );
    const row = this.#sql(`SELECT time FROM ${this.#table} ORDER BY seq DESC LIMIT 1`).get();
    this.#last = row === undefined ? 0 : integer(row, "time");
  }

  /** A prepared statement, compiled once. */
  #sql(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  append(owner: string, message: NewArchivedMessage): string {
    const id = message.id ?? this.#newId();
    const time = Math.max(message.time ?? Date.now(), this.#last);
    this.#last = time;
    const row: SQLInputValue[] = [
      owner,
      id,
      time,
      message.with,
      message.withResource ?? "",
      message.direction,
      message.stanza,
    ];
    if (this.#realJids) row.push(message.realJid ?? null);
    this.#pending.push(row);
    if (this.#pending.length === 1) this.#schedule();
    else if (this.#pending.length >= MAX_PENDING_ROWS) this.flush();
    return id;
  }

  /** The background flush: a bounded batch per turn of the event loop, so stanzas interleave. */
  #schedule(): void {
    setTimeout(() => {
      this.flush(FLUSH_BATCH);
      if (this.#pending.length > 0) this.#schedule();
    }, 0);
  }

  /**
   * Writes the messages appended since the last flush, in one transaction. Appends are batched
   * per turn of the event loop: a commit per message would cost more than the routing itself
   * when a client sends a burst. Every read flushes first; the module flushes when it stops.
   * A row that cannot be written (its account was removed meanwhile) is reported to `onError`.
   */
  flush(limit = Infinity): void {
    if (this.#pending.length === 0) return;
    const rows = this.#pending.length <= limit ? this.#pending : this.#pending.slice(0, limit);
    this.#pending = rows === this.#pending ? [] : this.#pending.slice(limit);
    const insert = this.#sql(
      this.#realJids
        ? `INSERT INTO ${this.#table} ` +
          "(owner, id, time, with_jid, with_resource, direction, stanza, real_jid) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        : `INSERT INTO ${this.#table} ` +
          "(owner, id, time, with_jid, with_resource, direction, stanza) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    transaction(this.#db, () => {
      for (const row of rows) {
        try {
          insert.run(...row);
        } catch (error) {
          this.#onError(row[0] as string, error);
        }
      }
    });
  }

  find(owner: string, query: ArchiveQuery): ArchivePage {
    this.flush();
    // Read in one transaction, so that count, index and page agree with each other.
    return transaction(this.#db, () => this.#find(owner, query));
  }

  #find(owner: string, query: ArchiveQuery): ArchivePage {
    const where = ["owner = ?"];
    const params: SQLInputValue[] = [owner];
    if (query.with !== undefined) {
      where.push("with_jid = ?");
      params.push(query.with.bare);
      if (query.with.resource !== undefined && query.with.resource !== "") {
        where.push("with_resource = ?");
        params.push(query.with.resource);
      }
    }
    if (query.start !== undefined) {
      where.push("time >= ?");
      params.push(query.start);
    }
    if (query.end !== undefined) {
      where.push("time <= ?");
      params.push(query.end);
    }
    if (query.afterId !== undefined) {
      afterClause(where, params, this.#position(owner, query.afterId));
    }
    if (query.beforeId !== undefined) {
      beforeClause(where, params, this.#position(owner, query.beforeId));
    }
    if (query.ids !== undefined) {
      for (const id of query.ids) this.#position(owner, id);
      where.push(`id IN (${query.ids.map(() => "?").join(", ")})`);
      params.push(...query.ids);
    }
    const filter = where.join(" AND ");
    const count = this.#count(filter, params);
    const pageWhere = [...where];
    const pageParams = [...params];
    const backwards = query.before !== undefined;
    if (query.after !== undefined) {
      afterClause(pageWhere, pageParams, this.#position(owner, query.after));
    }
    if (query.before !== undefined && query.before !== "") {
      beforeClause(pageWhere, pageParams, this.#position(owner, query.before));
    }
    if (query.max === 0) return { items: [], count, index: 0, complete: count === 0 };
    const offset = !backwards && query.after === undefined ? query.index ?? 0 : 0;
    const order = backwards ? "time DESC, seq DESC" : "time ASC, seq ASC";
    const rows = this.#sql(
      `SELECT ${this.#columns} FROM ${this.#table} WHERE ${pageWhere.join(" AND ")} ` +
        `ORDER BY ${order} LIMIT ? OFFSET ?`,
    ).all(...pageParams, query.max + 1, offset);
    const complete = rows.length <= query.max;
    if (!complete) rows.length = query.max;
    if (backwards) rows.reverse();
    let index: number | undefined = 0;
    if (rows.length > 0) {
      if (backwards && query.before === "") {
        index = count === undefined ? undefined : count - rows.length;
      } else if (query.after === undefined && !backwards) index = offset;
      else {
        const first = { seq: integer(rows[0], "seq"), time: integer(rows[0], "time") };
        const beforeFirst = [...where];
        const beforeParams = [...params];
        beforeClause(beforeFirst, beforeParams, first);
        index = this.#count(beforeFirst.join(" AND "), beforeParams);
      }
    } else if (!backwards) index = count;
    return { items: rows.map(readMessage), count, index, complete };
  }

  /** COUNT(*) of the rows `filter` selects, or undefined when there are more than the limit. */
  #count(filter: string, params: SQLInputValue[]): number | undefined {
    const n = integer(
      this.#sql(
        `SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${this.#table} WHERE ${filter} LIMIT ?)`,
      ).get(...params, this.#countLimit + 1)!,
      "n",
    );
    return n > this.#countLimit ? undefined : n;
  }

  #position(owner: string, id: string): Position {
    const row = this.#sql(`SELECT seq, time FROM ${this.#table} WHERE owner = ? AND id = ?`)
      .get(owner, id);
    if (row === undefined) throw new UnknownArchiveId(`No message "${id}" in the archive`);
    return { seq: integer(row, "seq"), time: integer(row, "time") };
  }

  bounds(owner: string): { first: ArchivedMessage; last: ArchivedMessage } | null {
    this.flush();
    const first = this.#sql(
      `SELECT ${this.#columns} FROM ${this.#table} WHERE owner = ? ` +
        "ORDER BY time ASC, seq ASC LIMIT 1",
    ).get(owner);
    if (first === undefined) return null;
    const last = this.#sql(
      `SELECT ${this.#columns} FROM ${this.#table} WHERE owner = ? ` +
        "ORDER BY time DESC, seq DESC LIMIT 1",
    ).get(owner)!;
    return { first: readMessage(first), last: readMessage(last) };
  }

  prune(before: number, limit: number): number {
    this.flush();
    // The oldest rows by seq are the oldest by time: look at the first `limit` only, so that a
    // batch costs the same however large the archive and however few rows have expired.
    const rows = this.#sql(`SELECT seq, time FROM ${this.#table} ORDER BY seq LIMIT ?`).all(limit);
    let upTo: number | undefined;
    for (const row of rows) {
      if (integer(row, "time") >= before) break;
      upTo = integer(row, "seq");
    }
    if (upTo === undefined) return 0;
    const result = this.#sql(`DELETE FROM ${this.#table} WHERE seq <= ?`).run(upTo);
    return Number(result.changes);
  }

  clear(owner: string): void {
    this.flush();
    this.#sql(`DELETE FROM ${this.#table} WHERE owner = ?`).run(owner);
  }

  prefs(owner: string): ArchivePrefs | null {
    // Asked for every archived message; most users never set preferences.
    if (!this.#withPrefs.has(owner)) return null;
    const row = this.#sql(
      `SELECT default_policy, always, never FROM ${this.#prefsTable} WHERE owner = ?`,
    ).get(owner);
    if (row === undefined) return null;
    return {
      default: text(row, "default_policy") as ArchivePolicy,
      always: JSON.parse(text(row, "always")),
      never: JSON.parse(text(row, "never")),
    };
  }

  setPrefs(owner: string, prefs: ArchivePrefs): void {
    if (this.#prefsTable === null) throw new Error("Cannot set preferences: this archive has none");
    this.#withPrefs.add(owner);
    this.#sql(
      `INSERT INTO ${this.#prefsTable} (owner, default_policy, always, never) ` +
        "VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (owner) DO UPDATE SET default_policy = excluded.default_policy, " +
        "always = excluded.always, never = excluded.never",
    ).run(owner, prefs.default, JSON.stringify(prefs.always), JSON.stringify(prefs.never));
  }
}

/** Rows after `p` in (time, seq) order; `time >= ?` first so the index range applies. */
function afterClause(where: string[], params: SQLInputValue[], p: Position): void {
  where.push("time >= ? AND (time > ? OR seq > ?)");
  params.push(p.time, p.time, p.seq);
}

/** Rows before `p` in (time, seq) order. */
function beforeClause(where: string[], params: SQLInputValue[], p: Position): void {
  where.push("time <= ? AND (time < ? OR seq < ?)");
  params.push(p.time, p.time, p.seq);
}

function readMessage(row: Row): ArchivedMessage {
  const message: ArchivedMessage = {
    id: text(row, "id"),
    time: integer(row, "time"),
    with: text(row, "with_jid"),
    direction: text(row, "direction") as "in" | "out",
    stanza: text(row, "stanza"),
  };
  if (typeof row.real_jid === "string") message.realJid = row.real_jid;
  return message;
}
