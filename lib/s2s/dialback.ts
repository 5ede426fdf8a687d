// Server Dialback keys (XEP-0220 §2.1.1, generated as XEP-0185 §3 recommends): the key for a
// stream is HMAC-SHA256 over "<receiving> <originating> <stream id>" with the SHA-256 of a
// secret only this server knows. The secret is kept in the data directory, so keys handed out
// before a restart still verify after it.
import { join } from "node:path";

/** The file in the data directory that holds the dialback secret (hex, mode 0600). */
export const DIALBACK_SECRET_FILE = "dialback.secret";

/** Reads the dialback secret from `dataDir`, creating it on first use; in memory without one. */
export async function loadDialbackSecret(dataDir?: string): Promise<Uint8Array<ArrayBuffer>> {
  if (dataDir === undefined) return crypto.getRandomValues(new Uint8Array(32));
  const path = join(dataDir, DIALBACK_SECRET_FILE);
  try {
    const hex = (await Deno.readTextFile(path)).trim();
    if (/^[0-9a-f]{64}$/.test(hex)) return Uint8Array.fromHex(hex);
    throw new Error(`${path} does not hold a 64-digit hex secret; remove it to make a new one`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const secret = crypto.getRandomValues(new Uint8Array(32));
  await Deno.writeTextFile(path, secret.toHex() + "\n", { mode: 0o600, createNew: true });
  return secret;
}

/** Makes and checks dialback keys with one secret. */
export class DialbackKeys {
  #key: Promise<CryptoKey>;

  constructor(secret: Uint8Array<ArrayBuffer>) {
    this.#key = crypto.subtle.digest("SHA-256", secret).then((hashed) =>
      crypto.subtle.importKey("raw", hashed, { name: "HMAC", hash: "SHA-256" }, false, [
        "sign",
      ])
    );
  }

  /** The key the originating server sends for a stream to the receiving server. */
  async key(receiving: string, originating: string, streamId: string): Promise<string> {
    const data = new TextEncoder().encode(`${receiving} ${originating} ${streamId}`);
    return new Uint8Array(await crypto.subtle.sign("HMAC", await this.#key, data)).toHex();
  }

  /** Whether `key` is the one this server made for that stream (compared in constant time). */
  async check(
    receiving: string,
    originating: string,
    streamId: string,
    key: string,
  ): Promise<boolean> {
    const expected = await this.key(receiving, originating, streamId);
    const given = key.trim().toLowerCase();
    if (given.length !== expected.length) return false;
    let difference = 0;
    for (let i = 0; i < expected.length; i++) {
      difference |= expected.charCodeAt(i) ^ given.charCodeAt(i);
    }
    return difference === 0;
  }
}
