// Salted slow hashing of shared secrets such as MUC room passwords (PBKDF2, RFC 8018 §5.2).

/** PBKDF2 iterations for new hashes. Stored hashes carry their own count, so raising it is safe. */
export const PBKDF2_ITERATIONS = 100_000;

const SCHEME = "pbkdf2-sha256";
const SALT_BYTES = 16;
const HASH_BYTES = 32;
// A stored string is trusted data, but a corrupt one must not make verification run for hours.
const MAX_ITERATIONS = 10_000_000;

/** Options for {@linkcode hashSecret}. */
export interface HashSecretOptions {
  /** PBKDF2 iteration count; defaults to {@linkcode PBKDF2_ITERATIONS}. */
  iterations?: number;
}

/**
 * Hashes `secret` with a fresh random salt. The result describes itself:
 * `pbkdf2-sha256$<iterations>$<salt base64>$<hash base64>`.
 *
 * @example
 * ```ts
 * const stored = await hashSecret("cauldron");
 * await verifySecret(stored, "cauldron"); // true
 * ```
 */
export async function hashSecret(secret: string, options: HashSecretOptions = {}): Promise<string> {
  const iterations = options.iterations ?? PBKDF2_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new RangeError(
      `Cannot hash secret: iterations must be an integer from 1 to ${MAX_ITERATIONS}, got ${iterations}`,
    );
  }
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await pbkdf2(secret, salt, iterations, HASH_BYTES);
  return [SCHEME, iterations, salt.toBase64(), hash.toBase64()].join("$");
}

/** Whether two secrets are equal, in time that does not depend on where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const encoder = new TextEncoder();
  return constantTimeEqual(encoder.encode(a), encoder.encode(b));
}

/**
 * Checks `given` against a string from {@linkcode hashSecret}, in constant time for a given
 * stored hash. A malformed `stored` string verifies nothing and returns false.
 */
export async function verifySecret(stored: string, given: string): Promise<boolean> {
  const parsed = parse(stored);
  if (parsed === null) return false;
  const actual = await pbkdf2(given, parsed.salt, parsed.iterations, parsed.hash.length);
  return constantTimeEqual(actual, parsed.hash);
}

function parse(
  stored: string,
): { iterations: number; salt: Uint8Array<ArrayBuffer>; hash: Uint8Array } | null {
  const parts = stored.split("$");
  if (parts.length !== 4 || parts[0] !== SCHEME || !/^[1-9][0-9]{0,7}$/.test(parts[1])) {
    return null;
  }
  const iterations = Number(parts[1]);
  if (iterations > MAX_ITERATIONS) return null;
  try {
    const salt = Uint8Array.fromBase64(parts[2]);
    const hash = Uint8Array.fromBase64(parts[3]);
    if (salt.length === 0 || hash.length !== HASH_BYTES) return null;
    return { iterations, salt, hash };
  } catch {
    return null; // not base64
  }
}

async function pbkdf2(
  secret: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
  bytes: number,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    key,
    bytes * 8,
  );
  return new Uint8Array(bits);
}

// Touches every byte whatever the contents, so timing does not reveal how much of a guess matched.
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}
