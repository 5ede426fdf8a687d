// Preparing SASL identities. RFC 4013 (SASLprep), RFC 5802 §2.2 (Normalize treats input as a
// query string), RFC 6120 §6.3.8 (authorization identity).
import { saslprep } from "@mongodb-js/saslprep";

/**
 * SASLprep for a string received during authentication, or null if it is prohibited.
 * Queries allow unassigned code points (RFC 4013 §2.5); stored passwords do not, see scram.ts.
 */
export function prepQuery(text: string): string | null {
  try {
    return saslprep(text, { allowUnassigned: true });
  } catch {
    return null;
  }
}

/**
 * True if `authzid` names the account that authenticated as `username` (already prepared):
 * empty, the username itself, or `username@domain`. `domain`, when given, must match too.
 */
export function authzidMatches(authzid: string, username: string, domain?: string): boolean {
  if (authzid === "") return true;
  const at = authzid.indexOf("@");
  const localpart = at < 0 ? authzid : authzid.slice(0, at);
  if (at >= 0) {
    const host = authzid.slice(at + 1);
    // A full JID or a second "@" cannot name an account.
    if (host === "" || host.includes("/") || host.includes("@")) return false;
    if (domain !== undefined && host.toLowerCase() !== domain.toLowerCase()) return false;
  }
  return prepQuery(localpart) === username;
}
