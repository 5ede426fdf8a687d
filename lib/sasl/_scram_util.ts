// SCRAM primitives shared by server and client. RFC 5802 §2.2 (Hi, HMAC, H, XOR), §3 (key
// derivation), §5.1 (attribute syntax, saslname escaping), §7 (printable nonce characters).
import { createHash, createHmac } from "node:crypto";
import type { ScramHash } from "./credentials.ts";

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/** One `name=value` pair of a SCRAM message, in the order it appeared. */
export type ScramAttribute = [name: string, value: string];

/** Output length of `hash` in bytes. */
export function hashLength(hash: ScramHash): number {
  return hash === "SHA-1" ? 20 : 32;
}

/** UTF-8 encodes `text`. */
export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

/** Decodes UTF-8, or returns null if `bytes` is not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return null;
  }
}

// crypto.subtle wants ArrayBuffer-backed views; credentials may come from anywhere (and a
// node Buffer is a view into a shared pool).
function own(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

/** node:crypto's name of a SCRAM hash. */
const NODE_HASH = { "SHA-1": "sha1", "SHA-256": "sha256" } as const;

/**
 * HMAC(key, data) with `hash`. node:crypto, not crypto.subtle: a login does a few of these on
 * 100-byte inputs, where WebCrypto's key import and asynchronous round trip cost ~3× the work.
 */
export function hmac(
  hash: ScramHash,
  key: Uint8Array,
  data: Uint8Array | string,
): Promise<Uint8Array<ArrayBuffer>> {
  const mac = createHmac(NODE_HASH[hash], key).update(data).digest();
  return Promise.resolve(own(mac));
}

/** H(data) with `hash`. */
export function digest(hash: ScramHash, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return Promise.resolve(own(createHash(NODE_HASH[hash]).update(data).digest()));
}

/** Hi(password, salt, i): PBKDF2 with dkLen equal to the hash length, which is exactly Hi. */
export async function hi(
  hash: ScramHash,
  password: string,
  salt: Uint8Array,
  iterations: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey("raw", utf8(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash, salt: own(salt), iterations },
    key,
    hashLength(hash) * 8,
  );
  return new Uint8Array(bits);
}

/** Byte-wise XOR of two equally long arrays. */
export function xor(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  if (a.length !== b.length) {
    throw new RangeError(`Cannot XOR arrays of different lengths: ${a.length} and ${b.length}`);
  }
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

/** Compares in time that depends only on the lengths, so a proof leaks nothing byte by byte. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  const length = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** The ClientKey, StoredKey and ServerKey for a SaltedPassword (RFC 5802 §3). */
export async function scramKeys(
  hash: ScramHash,
  saltedPassword: Uint8Array,
): Promise<{ clientKey: Uint8Array; storedKey: Uint8Array; serverKey: Uint8Array }> {
  const clientKey = await hmac(hash, saltedPassword, "Client Key");
  const storedKey = await digest(hash, clientKey);
  const serverKey = await hmac(hash, saltedPassword, "Server Key");
  return { clientKey, storedKey, serverKey };
}

/** Standard base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  return bytes.toBase64();
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes strict padded base64, or returns null if `text` is not that. */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> | null {
  if (!BASE64.test(text)) return null;
  try {
    return Uint8Array.fromBase64(text);
  } catch {
    return null;
  }
}

/** Splits `a=b,c=d` into ordered pairs, or returns null if any part is not `letter=value`. */
export function parseAttributes(text: string): ScramAttribute[] | null {
  const attributes: ScramAttribute[] = [];
  for (const part of text.split(",")) {
    if (!/^[A-Za-z]=/.test(part)) return null;
    attributes.push([part[0], part.slice(2)]);
  }
  return attributes;
}

/** Escapes `,` and `=` in a username for the `n=`/`a=` attributes. */
export function encodeSaslname(name: string): string {
  return name.replaceAll("=", "=3D").replaceAll(",", "=2C");
}

/** Undoes {@linkcode encodeSaslname}, or returns null if an `=` is not followed by `2C` or `3D`. */
export function decodeSaslname(value: string): string | null {
  if (/=(?!2C|3D)/.test(value)) return null;
  return value.replace(/=2C|=3D/g, (escape) => escape === "=2C" ? "," : "=");
}

/** True if `nonce` is non-empty and only has the characters RFC 5802 allows (printable, no `,`). */
export function isPrintable(nonce: string): boolean {
  return /^[\x21-\x2B\x2D-\x7E]+$/.test(nonce);
}

/** 18 random bytes as base64: 24 printable characters without `,`. */
export function randomNonce(): string {
  return encodeBase64(crypto.getRandomValues(new Uint8Array(18)));
}
