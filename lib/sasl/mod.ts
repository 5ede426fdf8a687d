// SASL for XMPP. RFC 6120 §6 (SASL negotiation), RFC 4422 (SASL), RFC 4616 (PLAIN),
// RFC 5802 (SCRAM), RFC 7677 (SCRAM-SHA-256).
/**
 * Server-side SASL mechanisms, stored SCRAM credentials, and a client for test tools.
 *
 * @module
 */
export * from "./credentials.ts";
export * from "./mechanism.ts";
export {
  DEFAULT_SCRAM_ITERATIONS,
  deriveScramCredentials,
  type DeriveScramOptions,
} from "./scram.ts";
export { createScramServer, type ScramServerOptions } from "./scram_server.ts";
export { createPlainServer, type PlainServerOptions } from "./plain_server.ts";
export { plainResponse, ScramClient } from "./client.ts";
