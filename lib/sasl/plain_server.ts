// PLAIN, server side. RFC 4616 §2 (message syntax, authzid), §4 (SASLprep of authcid and
// password); RFC 6120 §6.3.8 (authzid as a JID), §6.5 (failure conditions). The password is
// checked against the stored SCRAM StoredKey (RFC 5802 §3), so no plain password is kept.
import type { ScramCredentials } from "./credentials.ts";
import type { SaslCredentialSource, SaslServerMechanism, SaslStep } from "./mechanism.ts";
import { DEFAULT_SCRAM_ITERATIONS } from "./scram.ts";
import { authzidMatches, prepQuery } from "./_identity.ts";
import { decodeUtf8, hi, scramKeys, timingSafeEqual } from "./_scram_util.ts";

/** Options for {@linkcode createPlainServer}. */
export interface PlainServerOptions {
  /** If set, an authzid of the form `user@host` must have this host. */
  domain?: string;
}

// Salt for missing accounts: the check still runs PBKDF2, so timing does not reveal them.
const FAKE_SALT = crypto.getRandomValues(new Uint8Array(16));

class PlainServer implements SaslServerMechanism {
  readonly name = "PLAIN";
  #source: SaslCredentialSource;
  #options: PlainServerOptions;
  #challenged = false;
  #done = false;

  constructor(source: SaslCredentialSource, options: PlainServerOptions) {
    this.#source = source;
    this.#options = options;
  }

  async step(response: Uint8Array | null): Promise<SaslStep> {
    if (response === null && !this.#challenged && !this.#done) {
      // No initial response: an empty challenge asks the client for the message.
      this.#challenged = true;
      return { kind: "challenge", data: new Uint8Array() };
    }
    if (this.#done) {
      return { kind: "failure", condition: "malformed-request", text: "Exchange already finished" };
    }
    this.#done = true;
    const text = response === null ? null : decodeUtf8(response);
    // message = [authzid] NUL authcid NUL passwd
    const parts = text?.split("\0");
    if (parts === undefined || parts.length !== 3 || parts[1] === "" || parts[2] === "") {
      return { kind: "failure", condition: "malformed-request" };
    }
    const [authzid, authcid, password] = parts;
    const username = prepQuery(authcid);
    if (username === null || username === "") {
      return { kind: "failure", condition: "malformed-request", text: "Bad username" };
    }
    if (!authzidMatches(authzid, username, this.#options.domain)) {
      return { kind: "failure", condition: "invalid-authzid" };
    }
    const stored = await this.#source.scram(username, "SHA-256") ??
      await this.#source.scram(username, "SHA-1");
    const ok = await verifyPassword(stored, password);
    return ok ? { kind: "success", username } : { kind: "failure", condition: "not-authorized" };
  }
}

async function verifyPassword(stored: ScramCredentials | null, password: string): Promise<boolean> {
  // A prohibited password cannot match anything stored; still hash something for even timing.
  const prepared = prepQuery(password);
  const credentials: ScramCredentials = stored ?? {
    hash: "SHA-256",
    salt: FAKE_SALT,
    iterations: DEFAULT_SCRAM_ITERATIONS,
    storedKey: new Uint8Array(32),
    serverKey: new Uint8Array(32),
  };
  const { hash, salt, iterations } = credentials;
  const saltedPassword = await hi(hash, prepared ?? password, salt, iterations);
  const { storedKey } = await scramKeys(hash, saltedPassword);
  return timingSafeEqual(storedKey, credentials.storedKey) && stored !== null && prepared !== null;
}

/**
 * Creates one server-side PLAIN exchange. Accounts need SCRAM-SHA-256 or SCRAM-SHA-1
 * credentials; the password is derived with their salt and compared to the StoredKey.
 * Offer PLAIN only over TLS (RFC 4616 §6). Errors thrown by `source` propagate.
 */
export function createPlainServer(
  source: SaslCredentialSource,
  options: PlainServerOptions = {},
): SaslServerMechanism {
  return new PlainServer(source, options);
}
