// Versioned SQLite schema: step N upgrades the database from user_version N to N + 1.

/**
 * Schema migrations, oldest first. Never edit a step that has shipped: append a new one, since
 * databases in the field record only how many steps they have run (`PRAGMA user_version`).
 */
export const MIGRATIONS: readonly string[] = [
  // v1: accounts with SCRAM credentials, persistent MUC rooms with affiliations.
  `
  CREATE TABLE accounts (
    username TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL -- Unix time in milliseconds
  );

  CREATE TABLE scram_credentials (
    username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    salt BLOB NOT NULL,
    iterations INTEGER NOT NULL,
    stored_key BLOB NOT NULL,
    server_key BLOB NOT NULL,
    PRIMARY KEY (username, hash)
  );

  CREATE TABLE muc_rooms (
    jid TEXT PRIMARY KEY,
    config TEXT NOT NULL, -- JSON object
    password_hash TEXT,
    subject TEXT,
    subject_from TEXT,
    created_at INTEGER NOT NULL, -- Unix time in milliseconds
    updated_at INTEGER NOT NULL
  );

  CREATE TABLE muc_affiliations (
    room TEXT NOT NULL REFERENCES muc_rooms(jid) ON DELETE CASCADE,
    jid TEXT NOT NULL,
    affiliation TEXT NOT NULL,
    nick TEXT,
    reason TEXT,
    PRIMARY KEY (room, jid)
  );
  `,
];

/** The schema version this build writes: the number of migration steps. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;
