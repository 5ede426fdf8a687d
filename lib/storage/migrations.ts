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
  // v2: instant messaging state (RFC 6121 and the everyday XEPs) and MUC discussion history.
  `
  CREATE TABLE roster_items (
    username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
    contact TEXT NOT NULL, -- bare JID
    name TEXT,
    subscription TEXT NOT NULL DEFAULT 'none', -- none | to | from | both
    ask TEXT, -- 'subscribe' while an outbound request is pending
    approved INTEGER NOT NULL DEFAULT 0, -- pre-approved inbound request (RFC 6121 §3.4)
    groups TEXT NOT NULL DEFAULT '[]', -- JSON array of group names
    PRIMARY KEY (username, contact)
  );

  CREATE TABLE roster_versions (
    username TEXT PRIMARY KEY REFERENCES accounts(username) ON DELETE CASCADE,
    version INTEGER NOT NULL
  );

  -- Inbound subscription requests awaiting an answer, kept whole (status, nick, extensions).
  CREATE TABLE subscription_requests (
    username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
    contact TEXT NOT NULL, -- bare JID of the requester
    stanza TEXT NOT NULL, -- the presence stanza as XML
    received_at INTEGER NOT NULL, -- Unix time in milliseconds
    PRIMARY KEY (username, contact)
  );

  CREATE TABLE offline_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
    stanza TEXT NOT NULL, -- the message as XML
    stored_at INTEGER NOT NULL -- Unix time in milliseconds
  );
  CREATE INDEX offline_messages_by_user ON offline_messages (username, id);

  CREATE TABLE blocklist (
    username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
    jid TEXT NOT NULL,
    PRIMARY KEY (username, jid)
  );

  CREATE TABLE private_storage (
    username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
    element TEXT NOT NULL, -- '<name> <namespace>' of the stored element
    xml TEXT NOT NULL,
    PRIMARY KEY (username, element)
  );

  CREATE TABLE vcards (
    username TEXT PRIMARY KEY REFERENCES accounts(username) ON DELETE CASCADE,
    xml TEXT NOT NULL
  );

  CREATE TABLE last_activity (
    username TEXT PRIMARY KEY REFERENCES accounts(username) ON DELETE CASCADE,
    logout_at INTEGER NOT NULL, -- Unix time in milliseconds
    status TEXT
  );

  -- Removed accounts, so a name cannot be registered again at once (no foreign key: the account is gone).
  CREATE TABLE account_tombstones (
    username TEXT PRIMARY KEY,
    removed_at INTEGER NOT NULL -- Unix time in milliseconds
  );

  CREATE TABLE muc_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    room TEXT NOT NULL REFERENCES muc_rooms(jid) ON DELETE CASCADE,
    nick TEXT NOT NULL,
    stanza TEXT NOT NULL, -- the groupchat message as broadcast, as XML
    stamp INTEGER NOT NULL -- Unix time in milliseconds
  );
  CREATE INDEX muc_history_by_room ON muc_history (room, id);
  `,
  // v3: the running server's bound sessions, so that admin commands (another process) can list
  // them. The server empties the table when it starts and stops; rows go with their account.
  `
  CREATE TABLE sessions (
    jid TEXT PRIMARY KEY, -- full JID
    username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
    stream_id TEXT NOT NULL, -- the c2s stream's id, as in the server log
    bound_at INTEGER NOT NULL -- Unix time in milliseconds
  );
  CREATE INDEX sessions_by_user ON sessions (username);
  `,
  // v4: live sessions are asked of the running server (admin socket), not written per login.
  `
  DROP TABLE sessions;
  `,
  // v5: server modules own their new tables; each records here how many of its own migration
  // steps it has run (see migrateModule() in sqlite.ts).
  `
  CREATE TABLE module_schema (
    module TEXT PRIMARY KEY, -- the module's name
    version INTEGER NOT NULL -- its migration steps applied
  );
  `,
];

/** The schema version this build writes: the number of migration steps. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;
