// Deriving stored SCRAM credentials from a password. RFC 5802 §2.2 (Normalize, Hi), §3 (SaltedPassword,
// StoredKey, ServerKey), RFC 4013 (SASLprep), RFC 7677 §4 (iteration count for SCRAM-SHA-256).
import type { ScramCredentials, ScramHash } from "./credentials.ts";
import { prepQuery } from "./_identity.ts";
import { hi, scramKeys } from "./_scram_util.ts";

/** Iteration count used when none is given: the minimum RFC 7677 §4 recommends. */
export const DEFAULT_SCRAM_ITERATIONS = 4096;

/** Salt length in bytes used when no salt is given. */
const DEFAULT_SALT_LENGTH = 16;

/** Options for {@linkcode deriveScramCredentials}. */
export interface DeriveScramOptions {
  /** Hash function to derive for. */
  hash: ScramHash;
  /** Salt; 16 random bytes if omitted. */
  salt?: Uint8Array;
  /** Iteration count; {@linkcode DEFAULT_SCRAM_ITERATIONS} if omitted. */
  iterations?: number;
}

/**
 * Derives what the server stores for `password`, after SASLprep. Like RFC 5802 §2.2's
 * Normalize, this treats the password as a query string: unassigned code points are allowed.
 *
 * @example
 * ```ts
 * const credentials = await deriveScramCredentials("pencil", { hash: "SHA-256" });
 * ```
 */
export async function deriveScramCredentials(
  password: string,
  options: DeriveScramOptions,
): Promise<ScramCredentials> {
  const { hash } = options;
  const iterations = options.iterations ?? DEFAULT_SCRAM_ITERATIONS;
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new RangeError(
      `Cannot derive SCRAM credentials: iterations must be a positive integer, received ${iterations}`,
    );
  }
  const salt = options.salt ?? crypto.getRandomValues(new Uint8Array(DEFAULT_SALT_LENGTH));
  if (salt.length === 0) {
    throw new RangeError("Cannot derive SCRAM credentials: salt must not be empty");
  }
  const prepared = prepQuery(password);
  if (prepared === null) {
    throw new Error(
      "Cannot derive SCRAM credentials: password contains a character SASLprep prohibits",
    );
  }
  if (prepared === "") {
    throw new Error("Cannot derive SCRAM credentials: password is empty after SASLprep");
  }
  const saltedPassword = await hi(hash, prepared, salt, iterations);
  const { storedKey, serverKey } = await scramKeys(hash, saltedPassword);
  return { hash, salt: new Uint8Array(salt), iterations, storedKey, serverKey };
}
