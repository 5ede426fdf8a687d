// The server side of a SASL mechanism as XMPP drives it. RFC 6120 §6.4 (exchange), §6.5 (failure
// conditions), RFC 4422 §3 (mechanism model, initial response).
import type { ScramCredentials, ScramHash } from "./credentials.ts";

/** The `<failure/>` child elements RFC 6120 §6.5 defines. */
export type SaslFailureCondition =
  | "aborted"
  | "account-disabled"
  | "credentials-expired"
  | "encryption-required"
  | "incorrect-encoding"
  | "invalid-authzid"
  | "invalid-mechanism"
  | "malformed-request"
  | "mechanism-too-weak"
  | "not-authorized"
  | "temporary-auth-failure";

/** What the server sends after one step: `<challenge/>`, `<success/>` or `<failure/>`. */
export type SaslStep =
  | { kind: "challenge"; data: Uint8Array }
  /** `username` is the SASLprep'd localpart that authenticated. */
  | { kind: "success"; username: string; data?: Uint8Array }
  | { kind: "failure"; condition: SaslFailureCondition; text?: string };

/** One authentication exchange; create a fresh one per `<auth/>`. */
export interface SaslServerMechanism {
  /** Mechanism name as offered in `<mechanisms/>`, e.g. `SCRAM-SHA-256`. */
  readonly name: string;
  /**
   * Advances the exchange. The first call gets the initial response (null if `<auth/>` had
   * none); later calls each get the decoded payload of a client `<response/>`.
   */
  step(response: Uint8Array | null): Promise<SaslStep>;
}

/** Where mechanisms look up accounts. */
export interface SaslCredentialSource {
  /** SCRAM credentials for a username (already SASLprep'd), or null if the user does not exist. */
  scram(username: string, hash: ScramHash): Promise<ScramCredentials | null>;
}
