// The stream's address at the proxy: XEP-0065 §5.3.2 and §6.3.2, DST.ADDR = hex
// SHA1(SID + Requester JID + Target JID), JIDs as used in the negotiation (full JIDs here).
import { createHash } from "node:crypto";

/**
 * The hex SHA-1 of `sid + requester + target`, UTF-8 encoded.
 *
 * @example
 * ```ts
 * streamHash("vxf9n471bn46", "requester@example.com/foo", "target@example.org/bar");
 * ```
 */
export function streamHash(sid: string, requester: string, target: string): string {
  return createHash("sha1").update(sid + requester + target, "utf8").digest("hex");
}
