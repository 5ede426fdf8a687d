// Time-limited TURN credentials as coturn's `use-auth-secret` checks them (the "TURN REST API",
// draft-uberti-behave-turn-rest-00 §2.2), for XEP-0215 §3.3 ("the server might construct
// time-limited credentials as described in TURN-REST"): the username carries its own expiry, and
// the password is a MAC of the username under the secret the XMPP server shares with the relay,
// so the relay checks it without asking the XMPP server, and the XMPP server keeps no state.
import { createHmac } from "node:crypto";

/** A username and password for a TURN relay, and when they stop working. */
export interface TurnCredentials {
  /** `<expiry>:<user>`, the expiry in Unix seconds. */
  username: string;
  /** base64(HMAC-SHA1(secret, username)). */
  password: string;
  /** The expiry, in Unix seconds. */
  expires: number;
}

// RFC 5389 §15.3: a STUN USERNAME is less than 513 bytes.
const MAX_USERNAME_BYTES = 512;

/**
 * Credentials for `user` valid until `expires` (Unix seconds). The user part is only a label
 * (coturn reads the expiry before the first `:` and logs the rest); it is left out when the
 * username would be longer than a STUN USERNAME may be.
 *
 * @example
 * ```ts
 * turnCredentials("north-wind", { user: "romeo@example.org", expires: 1767225600 });
 * // { username: "1767225600:romeo@example.org", password: "4dUXhUN8T90OvBOOLYopVZbGTXI=", ... }
 * ```
 */
export function turnCredentials(
  secret: string,
  options: { user: string; expires: number },
): TurnCredentials {
  const expires = Math.floor(options.expires);
  let username = `${expires}:${options.user}`;
  if (new TextEncoder().encode(username).length > MAX_USERNAME_BYTES) username = `${expires}`;
  const password = createHmac("sha1", secret).update(username).digest("base64");
  return { username, password, expires };
}
