// Accounts: usernames prepared as JID localparts, passwords turned into SCRAM keys.
import { JidError, prepLocal } from "../jid/jid.ts";
import type { ScramHash } from "../sasl/credentials.ts";
import type { SaslCredentialSource } from "../sasl/mechanism.ts";
import { deriveScramCredentials } from "../sasl/scram.ts";
import type { AccountStore } from "../storage/account_store.ts";
import type { TombstoneStore } from "../storage/tombstone_store.ts";

const HASHES: ScramHash[] = ["SHA-256", "SHA-1"];

/** What kind of refusal an {@linkcode AccountError} is, for protocol error mapping. */
export type AccountErrorReason =
  | "invalid-username"
  | "invalid-password"
  | "exists"
  | "reserved"
  | "no-such-user";

/** Why an account operation was refused, in words an admin can act on. */
export class AccountError extends Error {
  override name = "AccountError";
  /** The kind of refusal, when known. */
  readonly reason: AccountErrorReason | undefined;

  constructor(message: string, reason?: AccountErrorReason) {
    super(message);
    this.reason = reason;
  }
}

/** Options for {@linkcode Accounts}. */
export interface AccountsOptions {
  /** Names of removed accounts; without it, removal reserves nothing. */
  tombstones?: TombstoneStore;
  /** Days a removed account's name stays reserved for {@linkcode Accounts.register}; 0: none. */
  tombstoneDays?: number;
  /** The clock, in Unix milliseconds (tests). */
  now?: () => number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Account management on top of an {@linkcode AccountStore}; never sees plaintext after hashing. */
export class Accounts implements SaslCredentialSource {
  #store: AccountStore;
  #tombstones: TombstoneStore | undefined;
  #tombstoneMs: number;
  #now: () => number;
  #removedListeners: ((username: string) => void)[] = [];

  constructor(store: AccountStore, options: AccountsOptions = {}) {
    this.#store = store;
    this.#tombstones = options.tombstones;
    this.#tombstoneMs = (options.tombstoneDays ?? 0) * DAY_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Prepares a username as a JID localpart, or throws `AccountError`. */
  static prepUsername(username: string): string {
    try {
      return prepLocal(username);
    } catch (error) {
      throw new AccountError(
        `Invalid username "${username}": ${error instanceof JidError ? error.message : error}`,
        "invalid-username",
      );
    }
  }

  exists(username: string): boolean {
    return this.#store.exists(username);
  }

  list(): string[] {
    return this.#store.list();
  }

  /**
   * Creates an account with SCRAM-SHA-256 and SCRAM-SHA-1 keys. An administrator's command:
   * a reserved name (see {@linkcode Accounts.reservedUntil}) is created all the same.
   */
  async create(username: string, password: string): Promise<void> {
    const name = Accounts.prepUsername(username);
    if (this.#store.exists(name)) {
      throw new AccountError(`Cannot create user "${name}": it already exists`, "exists");
    }
    const credentials = await derive(password);
    if (this.#store.exists(name)) {
      throw new AccountError(`Cannot create user "${name}": it already exists`, "exists");
    }
    this.#store.create(name, credentials);
  }

  /**
   * Creates an account for a user who signs up themselves (XEP-0077): like
   * {@linkcode Accounts.create}, but refuses a name whose tombstone has not expired.
   */
  async register(username: string, password: string): Promise<void> {
    const name = Accounts.prepUsername(username);
    const until = this.reservedUntil(name);
    if (until !== null) {
      throw new AccountError(
        `Cannot register "${name}": an account of that name was removed recently; ` +
          `the name is free again after ${new Date(until).toISOString()}`,
        "reserved",
      );
    }
    await this.create(name, password);
  }

  /** Until when (Unix ms) a removed account's name stays reserved, or null if it is free. */
  reservedUntil(username: string): number | null {
    if (this.#tombstones === undefined || this.#tombstoneMs === 0) return null;
    const removedAt = this.#tombstones.removedAt(username);
    if (removedAt === null) return null;
    const until = removedAt + this.#tombstoneMs;
    return until > this.#now() ? until : null;
  }

  /** Replaces an account's password. */
  async setPassword(username: string, password: string): Promise<void> {
    const name = Accounts.prepUsername(username);
    if (!this.#store.exists(name)) {
      throw new AccountError(
        `Cannot change the password of "${name}": no such user`,
        "no-such-user",
      );
    }
    this.#store.setCredentials(name, await derive(password));
  }

  /**
   * Deletes an account and, through the schema's cascades, everything stored for it; leaves a
   * tombstone that reserves the name when tombstones are configured. False if there was none.
   */
  remove(username: string): boolean {
    const name = Accounts.prepUsername(username);
    if (!this.#store.remove(name)) return false;
    // What the database's cascades cannot reach (files on disk) goes here; one failing listener
    // must not keep the others from running, nor undo the removal.
    for (const listener of this.#removedListeners) {
      try {
        listener(name);
      } catch { /* the listener logs its own failures */ }
    }
    if (this.#tombstones !== undefined && this.#tombstoneMs > 0) {
      const now = this.#now();
      this.#tombstones.purge(now - this.#tombstoneMs);
      this.#tombstones.add(name, now);
    }
    return true;
  }

  /** Calls `listener` with the username of every account removed from now on. */
  onRemoved(listener: (username: string) => void): void {
    this.#removedListeners.push(listener);
  }

  /** SaslCredentialSource: the stored keys for a SASL username. */
  scram(username: string, hash: ScramHash) {
    let name: string;
    try {
      name = prepLocal(username);
    } catch {
      return Promise.resolve(null);
    }
    return Promise.resolve(this.#store.credentials(name, hash));
  }
}

async function derive(password: string) {
  if (password === "") throw new AccountError("The password must not be empty", "invalid-password");
  try {
    return await Promise.all(HASHES.map((hash) => deriveScramCredentials(password, { hash })));
  } catch (error) {
    throw new AccountError(
      `Invalid password: ${error instanceof Error ? error.message : error}`,
      "invalid-password",
    );
  }
}
