// Opening Verona's SQLite database (node:sqlite) and bringing its schema up to date.
import type { DatabaseSync } from "node:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { MIGRATIONS } from "./migrations.ts";
import { StatementCachingDatabase } from "./statement_cache.ts";
import { integer, transaction } from "./sql.ts";

/** How long a statement waits for another connection's lock before failing, in milliseconds. */
export const BUSY_TIMEOUT_MS = 5_000;

/**
 * Opens (creating if needed) the database at `path` and applies pending migrations.
 * `":memory:"` opens a private in-memory database, handy for tests.
 *
 * @example
 * ```ts
 * using db = openDatabase("./data/verona.sqlite");
 * const accounts = new SqliteAccountStore(db);
 * ```
 */
export function openDatabase(path: string): DatabaseSync {
  const inMemory = path === ":memory:";
  let db: DatabaseSync;
  try {
    if (!inMemory) mkdirSync(dirname(path), { recursive: true });
    db = new StatementCachingDatabase(path);
  } catch (error) {
    throw new Error(`Cannot open database "${path}": ${message(error)}`, { cause: error });
  }
  try {
    // WAL lets readers run while the server writes; in-memory databases do not support it.
    if (!inMemory) db.exec("PRAGMA journal_mode = WAL");
    // In WAL mode, NORMAL syncs the log at checkpoints, not at every commit: no fsync on the
    // event loop per stanza or login. A committed change survives the process being killed
    // (kill -9, a crash): it is in the log, in the OS's hands. A power cut or kernel crash can
    // lose the last commits before the latest checkpoint, never the database's consistency.
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA foreign_keys = ON");
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    migrate(db, MIGRATIONS);
  } catch (error) {
    db.close();
    throw new Error(`Cannot open database "${path}": ${message(error)}`, { cause: error });
  }
  return db;
}

/**
 * Applies the steps of `migrations` that the database has not run yet, each in its own
 * transaction together with the bump of `PRAGMA user_version`. Returns the resulting version.
 */
export function migrate(db: DatabaseSync, migrations: readonly string[] = MIGRATIONS): number {
  for (;;) {
    const applied = transaction(db, () => {
      // Read inside the transaction: another process may have migrated while we waited.
      const version = userVersion(db);
      if (version > migrations.length) {
        throw new Error(
          `Cannot migrate database: schema version ${version} is newer than this build supports (${migrations.length})`,
        );
      }
      if (version === migrations.length) return null;
      try {
        db.exec(migrations[version]);
      } catch (error) {
        throw new Error(
          `Cannot migrate database to schema version ${version + 1}: ${message(error)}`,
          { cause: error },
        );
      }
      db.exec(`PRAGMA user_version = ${version + 1}`);
      return version + 1;
    });
    if (applied === null) return migrations.length;
  }
}

/**
 * Applies the steps of a module's own `migrations` that the database has not run yet, each in
 * its own transaction together with the bump of the module's row in `module_schema`. Returns the
 * resulting version. Like {@linkcode migrate}, refuses a database that is ahead of the steps.
 *
 * @example
 * ```ts
 * migrateModule(db, "mam", ["CREATE TABLE mam_archive (id INTEGER PRIMARY KEY, xml TEXT)"]);
 * ```
 */
export function migrateModule(
  db: DatabaseSync,
  module: string,
  migrations: readonly string[],
): number {
  for (;;) {
    const applied = transaction(db, () => {
      const version = moduleVersion(db, module);
      if (version > migrations.length) {
        throw new Error(
          `Cannot migrate module "${module}": its schema version ${version} is newer than this build supports (${migrations.length})`,
        );
      }
      if (version === migrations.length) return null;
      try {
        db.exec(migrations[version]);
      } catch (error) {
        throw new Error(
          `Cannot migrate module "${module}" to schema version ${version + 1}: ${message(error)}`,
          { cause: error },
        );
      }
      db.prepare(
        "INSERT INTO module_schema (module, version) VALUES (?, ?) " +
          "ON CONFLICT (module) DO UPDATE SET version = excluded.version",
      ).run(module, version + 1);
      return version + 1;
    });
    if (applied === null) return migrations.length;
  }
}

/** How many of its own migration steps a module has run (0 if none). */
export function moduleVersion(db: DatabaseSync, module: string): number {
  const row = db.prepare("SELECT version FROM module_schema WHERE module = ?").get(module);
  return row === undefined ? 0 : integer(row, "version");
}

/** The schema version recorded in the database (`PRAGMA user_version`). */
export function userVersion(db: DatabaseSync): number {
  const row = db.prepare("PRAGMA user_version").get();
  if (row === undefined) throw new Error("Cannot read schema version: no result");
  return integer(row, "user_version");
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
