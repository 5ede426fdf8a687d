// Preparing SASL identities. RFC 4013 (SASLprep), RFC 5802 §2.2 (Normalize treats input as a
// query string), RFC 6120 §6.3.8 (authorization identity).
import { saslprep } from "@mongodb-js/saslprep";

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * SASLprep as a query string, or null if `text` is prohibited. RFC 5802 §2.2 normalizes every
 * SCRAM password as a query, which keeps passwords with newer characters (emoji) usable; since
 * unassigned code points pass through unchanged, storing and checking still agree.
 */
export function prepQuery(text: string): string | null {
  // RFC 4013 changes or refuses no printable ASCII character (its mappings, prohibitions and
  // bidi rules are all about other code points; NFKC keeps ASCII): the usual name or password
  // needs no tables.
  if (PRINTABLE_ASCII.test(text)) return text;
  try {
    return saslprep(text, { allowUnassigned: true });
  } catch (error) {
    // FIXME: @mongodb-js/saslprep 1.6.3 throws a TypeError when every character maps to
    // nothing (e.g. "\u00AD"); its own rule errors are plain Errors. The answer is "".
    return error instanceof TypeError ? "" : null;
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
