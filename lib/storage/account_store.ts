// Account storage: usernames with their SCRAM credentials (RFC 5802 §3), never passwords.
import type { DatabaseSync } from "node:sqlite";
import type { ScramCredentials, ScramHash } from "../sasl/credentials.ts";
import { blob, integer, text, transaction } from "./sql.ts";

/**
 * Where accounts live. Usernames are passed already normalized (the caller applies the JID
 * localpart profile); the store compares them byte for byte.
 */
export interface AccountStore {
  /** Whether an account named `username` exists. */
  exists(username: string): boolean;
  /** Creates an account. Throws if it already exists. */
  create(username: string, credentials: ScramCredentials[]): void;
  /** Replaces all credentials of an account (password change). Throws if it does not exist. */
  setCredentials(username: string, credentials: ScramCredentials[]): void;
  /** Deletes an account and its credentials. Returns false if there was none. */
  remove(username: string): boolean;
  /** The credentials stored for one hash, or null if the account or that hash is missing. */
  credentials(username: string, hash: ScramHash): ScramCredentials | null;
  /** All usernames, sorted. */
  list(): string[];
}

/** {@linkcode AccountStore} on the `accounts` and `scram_credentials` tables. */
export class SqliteAccountStore implements AccountStore {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  exists(username: string): boolean {
    return this.#db.prepare("SELECT 1 FROM accounts WHERE username = ?").get(username) !==
      undefined;
  }

  create(username: string, credentials: ScramCredentials[]): void {
    transaction(this.#db, () => {
      if (this.exists(username)) {
        throw new Error(`Cannot create account "${username}": it already exists`);
      }
      this.#db.prepare("INSERT INTO accounts (username, created_at) VALUES (?, ?)")
        .run(username, Date.now());
      this.#insertCredentials(username, credentials);
    });
  }

  setCredentials(username: string, credentials: ScramCredentials[]): void {
    transaction(this.#db, () => {
      if (!this.exists(username)) {
        throw new Error(`Cannot set credentials of account "${username}": no such account`);
      }
      this.#db.prepare("DELETE FROM scram_credentials WHERE username = ?").run(username);
      this.#insertCredentials(username, credentials);
    });
  }

  remove(username: string): boolean {
    // Credentials go with the account: ON DELETE CASCADE.
    const result = this.#db.prepare("DELETE FROM accounts WHERE username = ?").run(username);
    return Number(result.changes) > 0;
  }

  credentials(username: string, hash: ScramHash): ScramCredentials | null {
    const row = this.#db.prepare(
      "SELECT salt, iterations, stored_key, server_key FROM scram_credentials " +
        "WHERE username = ? AND hash = ?",
    ).get(username, hash);
    if (row === undefined) return null;
    return {
      hash,
      salt: blob(row, "salt"),
      iterations: integer(row, "iterations"),
      storedKey: blob(row, "stored_key"),
      serverKey: blob(row, "server_key"),
    };
  }

  list(): string[] {
    return this.#db.prepare("SELECT username FROM accounts ORDER BY username").all()
      .map((row) => text(row, "username"));
  }

  #insertCredentials(username: string, credentials: ScramCredentials[]): void {
    const insert = this.#db.prepare(
      "INSERT INTO scram_credentials (username, hash, salt, iterations, stored_key, server_key) " +
        "VALUES (?, ?, ?, ?, ?, ?)",
    );
    const seen = new Set<ScramHash>();
    for (const c of credentials) {
      if (seen.has(c.hash)) {
        throw new Error(`Cannot store credentials of "${username}": ${c.hash} given twice`);
      }
      seen.add(c.hash);
      insert.run(username, c.hash, c.salt, c.iterations, c.storedKey, c.serverKey);
    }
  }
}
