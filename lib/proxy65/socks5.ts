// The SOCKS5 handshake a bytestreams proxy needs (RFC 1928 §3–6 as profiled by XEP-0065 §5.3.2,
// §6.3.2 and §8.2): method selection offering "no authentication" (0x00), then CONNECT (0x01)
// with ATYP 0x03, a DST.ADDR that is the stream's hex SHA-1 hash and DST.PORT 0. Parsers are
// incremental: they take the bytes received so far and say whether more are needed.

/** SOCKS protocol version 5. */
export const SOCKS_VERSION = 0x05;
/** Method "no authentication required" (RFC 1928 §3). */
export const METHOD_NONE = 0x00;
/** Method reply "no acceptable methods" (RFC 1928 §3). */
export const METHOD_UNACCEPTABLE = 0xff;

/** Reply codes of RFC 1928 §6 that the proxy sends. */
export const Reply = {
  SUCCEEDED: 0x00,
  GENERAL_FAILURE: 0x01,
  NOT_ALLOWED: 0x02,
  COMMAND_NOT_SUPPORTED: 0x07,
  ADDRESS_TYPE_NOT_SUPPORTED: 0x08,
} as const;

/** One of {@linkcode Reply}. */
export type ReplyCode = typeof Reply[keyof typeof Reply];

/** What a parser made of the bytes so far. */
export type Parsed<T> =
  | { readonly kind: "more" }
  | { readonly kind: "done"; readonly value: T; readonly length: number }
  | { readonly kind: "error"; readonly reply: ReplyCode; readonly reason: string };

const MORE = { kind: "more" } as const;

/**
 * The client's method-selection message (RFC 1928 §3): VER, NMETHODS, METHODS. Done when it
 * offers "no authentication"; an error otherwise (the caller answers 0x05 0xFF and closes).
 *
 * @example
 * ```ts
 * parseGreeting(new Uint8Array([5, 1, 0])); // { kind: "done", value: undefined, length: 3 }
 * ```
 */
export function parseGreeting(bytes: Uint8Array): Parsed<void> {
  if (bytes.length < 1) return MORE;
  if (bytes[0] !== SOCKS_VERSION) {
    return { kind: "error", reply: Reply.GENERAL_FAILURE, reason: `SOCKS version ${bytes[0]}` };
  }
  if (bytes.length < 2) return MORE;
  const count = bytes[1];
  if (count === 0) return { kind: "error", reply: Reply.GENERAL_FAILURE, reason: "no methods" };
  if (bytes.length < 2 + count) return MORE;
  if (!bytes.subarray(2, 2 + count).includes(METHOD_NONE)) {
    return { kind: "error", reply: Reply.NOT_ALLOWED, reason: "no-authentication not offered" };
  }
  return { kind: "done", value: undefined, length: 2 + count };
}

// A lowercase hex SHA-1, as XEP-0065 §5.3.2 computes it (Python's hexdigest, Prosody's sha1).
const HASH = /^[0-9a-f]{40}$/;

/**
 * The CONNECT request (RFC 1928 §4) of XEP-0065 §8.2: VER 5, CMD 1, RSV 0, ATYP 3, a 40-byte
 * DST.ADDR holding the hex hash, DST.PORT 0. Its value is the hash.
 */
export function parseConnect(bytes: Uint8Array): Parsed<string> {
  if (bytes.length < 5) return MORE;
  if (bytes[0] !== SOCKS_VERSION) {
    return { kind: "error", reply: Reply.GENERAL_FAILURE, reason: `SOCKS version ${bytes[0]}` };
  }
  if (bytes[1] !== 0x01) {
    return {
      kind: "error",
      reply: Reply.COMMAND_NOT_SUPPORTED,
      reason: `command ${bytes[1]} (only CONNECT)`,
    };
  }
  if (bytes[3] !== 0x03) {
    return {
      kind: "error",
      reply: Reply.ADDRESS_TYPE_NOT_SUPPORTED,
      reason: `address type ${bytes[3]} (only a domain name)`,
    };
  }
  const length = bytes[4];
  const total = 5 + length + 2;
  if (bytes.length < total) return MORE;
  const hash = String.fromCharCode(...bytes.subarray(5, 5 + length));
  if (!HASH.test(hash)) {
    return { kind: "error", reply: Reply.NOT_ALLOWED, reason: "DST.ADDR is not a hex SHA-1" };
  }
  if (bytes[5 + length] !== 0 || bytes[6 + length] !== 0) {
    return { kind: "error", reply: Reply.NOT_ALLOWED, reason: "DST.PORT is not 0" };
  }
  return { kind: "done", value: hash, length: total };
}

/** The server's method choice (RFC 1928 §3). */
export function methodReply(method: number): Uint8Array {
  return new Uint8Array([SOCKS_VERSION, method]);
}

/**
 * The reply to CONNECT (RFC 1928 §6); XEP-0065 §6.3.2 wants BND.ADDR and BND.PORT to repeat
 * DST.ADDR and DST.PORT, so a success carries the hash and port 0.
 */
export function connectReply(code: ReplyCode, hash = ""): Uint8Array {
  const out = new Uint8Array(7 + hash.length);
  out.set([SOCKS_VERSION, code, 0x00, 0x03, hash.length]);
  for (let i = 0; i < hash.length; i++) out[5 + i] = hash.charCodeAt(i);
  return out; // the port's two bytes stay 0
}
