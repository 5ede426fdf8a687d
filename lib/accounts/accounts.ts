// Accounts: usernames prepared as JID localparts, passwords turned into SCRAM keys.
import { JidError, prepLocal } from "../jid/jid.ts";
import type { ScramHash } from "../sasl/credentials.ts";
import type { SaslCredentialSource } from "../sasl/mechanism.ts";
import { deriveScramCredentials } from "../sasl/scram.ts";
import type { AccountStore } from "../storage/account_store.ts";

const HASHES: ScramHash[] = ["SHA-256", "SHA-1"];

/** Why an account operation was refused, in words an admin can act on. */
export class AccountError extends Error {}

/** Account management on top of an {@linkcode AccountStore}; never sees plaintext after hashing. */
export class Accounts implements SaslCredentialSource {
  #store: AccountStore;

  constructor(store: AccountStore) {
    this.#store = store;
  }

  /** Prepares a username as a JID localpart, or throws `AccountError`. */
  static prepUsername(username: string): string {
    try {
      return prepLocal(username);
    } catch (error) {
      throw new AccountError(
        `Invalid username "${username}": ${error instanceof JidError ? error.message : error}`,
      );
    }
  }

  exists(username: string): boolean {
    return this.#store.exists(username);
  }

  list(): string[] {
    return this.#store.list();
  }

  /** Creates an account with SCRAM-SHA-256 and SCRAM-SHA-1 keys. */
  async create(username: string, password: string): Promise<void> {
    const name = Accounts.prepUsername(username);
    if (this.#store.exists(name)) {
      throw new AccountError(`Cannot create user "${name}": it already exists`);
    }
    this.#store.create(name, await derive(password));
  }

  /** Replaces an account's password. */
  async setPassword(username: string, password: string): Promise<void> {
    const name = Accounts.prepUsername(username);
    if (!this.#store.exists(name)) {
      throw new AccountError(`Cannot change the password of "${name}": no such user`);
    }
    this.#store.setCredentials(name, await derive(password));
  }

  /** Deletes an account; false if there was none. */
  remove(username: string): boolean {
    return this.#store.remove(Accounts.prepUsername(username));
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
  if (password === "") throw new AccountError("The password must not be empty");
  try {
    return await Promise.all(HASHES.map((hash) => deriveScramCredentials(password, { hash })));
  } catch (error) {
    throw new AccountError(`Invalid password: ${error instanceof Error ? error.message : error}`);
  }
}
