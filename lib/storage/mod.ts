// Persistence: the SQLite database, its versioned schema, and the stores built on it.
/**
 * @example
 * ```ts
 * import { openDatabase, SqliteAccountStore, SqliteRoomStore } from "./lib/storage/mod.ts";
 * using db = openDatabase(config.databasePath);
 * const accounts = new SqliteAccountStore(db);
 * const rooms = new SqliteRoomStore(db);
 * ```
 *
 * @module
 */
export {
  BUSY_TIMEOUT_MS,
  migrate,
  migrateModule,
  moduleVersion,
  openDatabase,
  userVersion,
} from "./sqlite.ts";
export { MIGRATIONS, SCHEMA_VERSION } from "./migrations.ts";
export { type AccountStore, SqliteAccountStore } from "./account_store.ts";
export {
  AFFILIATIONS,
  MemoryRoomStore,
  type RoomStore,
  SqliteRoomStore,
  type StoredAffiliation,
  type StoredAffiliationKind,
  type StoredRoom,
} from "./room_store.ts";
export { SqliteAccountFacts } from "./account_facts.ts";
export {
  type LastActivity,
  type LastActivityStore,
  SqliteLastActivityStore,
} from "./last_activity_store.ts";
export { type PrivateStore, SqlitePrivateStore } from "./private_store.ts";
export { SqliteTombstoneStore, type TombstoneStore } from "./tombstone_store.ts";
export { SqliteVcardStore, type VcardStore } from "./vcard_store.ts";
export { hashSecret, type HashSecretOptions, PBKDF2_ITERATIONS, verifySecret } from "./secrets.ts";
