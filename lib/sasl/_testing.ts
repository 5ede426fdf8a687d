// Test helpers for this folder: an in-memory SaslCredentialSource. Not part of the module API.
import type { ScramCredentials, ScramHash } from "./credentials.ts";
import type { SaslCredentialSource } from "./mechanism.ts";
import { deriveScramCredentials } from "./scram.ts";

/** A source holding `accounts` (username → password) for the given hashes, logging lookups. */
export async function memorySource(
  accounts: Record<string, string>,
  hashes: ScramHash[] = ["SHA-1", "SHA-256"],
): Promise<SaslCredentialSource & { lookups: string[] }> {
  const table = new Map<string, ScramCredentials>();
  for (const [username, password] of Object.entries(accounts)) {
    for (const hash of hashes) {
      table.set(`${hash} ${username}`, await deriveScramCredentials(password, { hash }));
    }
  }
  const lookups: string[] = [];
  return {
    lookups,
    scram(username: string, hash: ScramHash) {
      lookups.push(`${hash} ${username}`);
      return Promise.resolve(table.get(`${hash} ${username}`) ?? null);
    },
  };
}

/** A source with exactly one stored credential. */
export function fixedSource(username: string, credentials: ScramCredentials): SaslCredentialSource {
  return {
    scram: (name, hash) =>
      Promise.resolve(name === username && hash === credentials.hash ? credentials : null),
  };
}

/** UTF-8 text of a step's data, for readable assertions. */
export function text(bytes: Uint8Array | undefined): string {
  return new TextDecoder().decode(bytes);
}
