// Stored SCRAM credentials (RFC 5802 §3): what the server keeps instead of a password.

/** The hash functions Verona offers SCRAM with. */
export type ScramHash = "SHA-1" | "SHA-256";

/** SASL mechanism name for each SCRAM hash. */
export const SCRAM_MECHANISM: Readonly<Record<ScramHash, string>> = {
  "SHA-1": "SCRAM-SHA-1",
  "SHA-256": "SCRAM-SHA-256",
};

/** Salt, iteration count, StoredKey and ServerKey for one account and one hash. */
export interface ScramCredentials {
  hash: ScramHash;
  salt: Uint8Array;
  iterations: number;
  storedKey: Uint8Array;
  serverKey: Uint8Array;
}
