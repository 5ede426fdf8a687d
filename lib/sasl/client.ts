// SCRAM and PLAIN, client side, for test tools. RFC 5802 §3 (proof, ServerSignature), §5
// (exchange), §7 (syntax), without channel binding (gs2 header "n,,"); RFC 4616 §2 (PLAIN).
import type { ScramHash } from "./credentials.ts";
import { prepQuery } from "./_identity.ts";
import {
  decodeBase64,
  decodeUtf8,
  encodeBase64,
  encodeSaslname,
  hi,
  hmac,
  isPrintable,
  parseAttributes,
  randomNonce,
  scramKeys,
  timingSafeEqual,
  utf8,
  xor,
} from "./_scram_util.ts";

const GS2_HEADER = "n,,";

/**
 * One client-side SCRAM exchange.
 *
 * @example
 * ```ts
 * const client = new ScramClient("SHA-256", "user", "pencil");
 * const clientFirst = client.first();               // send in <auth/>
 * const clientFinal = await client.final(challenge); // send in <response/>
 * const ok = await client.verify(successData);      // from <success/>
 * ```
 */
export class ScramClient {
  #hash: ScramHash;
  #password: string;
  #clientFirstBare: string;
  #serverSignature: Uint8Array | undefined;

  /** `nonce` is random by default; pass one only to reproduce known exchanges. */
  constructor(hash: ScramHash, username: string, password: string, nonce: string = randomNonce()) {
    const prepared = prepQuery(username);
    if (prepared === null || prepared === "") {
      throw new TypeError(
        "Cannot create SCRAM client: username is empty or prohibited by SASLprep",
      );
    }
    if (!isPrintable(nonce)) {
      throw new TypeError(`Cannot create SCRAM client: nonce "${nonce}" is not printable`);
    }
    this.#hash = hash;
    this.#password = password;
    this.#clientFirstBare = `n=${encodeSaslname(prepared)},r=${nonce}`;
  }

  /** The client-first-message. */
  first(): Uint8Array {
    return utf8(GS2_HEADER + this.#clientFirstBare);
  }

  /** The client-final-message answering `serverFirst`; throws if the server's message is bad. */
  async final(serverFirst: Uint8Array): Promise<Uint8Array> {
    const text = decodeUtf8(serverFirst);
    const attributes = text === null ? null : parseAttributes(text);
    if (text === null || attributes === null || attributes.length < 3) {
      throw new Error("Cannot answer SCRAM challenge: malformed server-first-message");
    }
    const [[rName, nonce], [sName, saltText], [iName, iterationsText]] = attributes;
    if (rName !== "r" || sName !== "s" || iName !== "i") {
      throw new Error("Cannot answer SCRAM challenge: malformed server-first-message");
    }
    const clientNonce = this.#clientFirstBare.slice(this.#clientFirstBare.indexOf(",r=") + 3);
    if (
      !nonce.startsWith(clientNonce) || nonce.length === clientNonce.length || !isPrintable(nonce)
    ) {
      throw new Error("Cannot answer SCRAM challenge: server nonce does not extend ours");
    }
    const salt = decodeBase64(saltText);
    const iterations = /^[1-9][0-9]{0,9}$/.test(iterationsText) ? Number(iterationsText) : NaN;
    if (salt === null || salt.length === 0 || !Number.isSafeInteger(iterations)) {
      throw new Error("Cannot answer SCRAM challenge: bad salt or iteration count");
    }
    const password = prepQuery(this.#password);
    if (password === null) {
      throw new Error("Cannot answer SCRAM challenge: password is prohibited by SASLprep");
    }

    const saltedPassword = await hi(this.#hash, password, salt, iterations);
    const { clientKey, storedKey, serverKey } = await scramKeys(this.#hash, saltedPassword);
    const withoutProof = `c=${encodeBase64(utf8(GS2_HEADER))},r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${text},${withoutProof}`;
    const clientSignature = await hmac(this.#hash, storedKey, authMessage);
    const proof = xor(clientKey, clientSignature);
    this.#serverSignature = await hmac(this.#hash, serverKey, authMessage);
    return utf8(`${withoutProof},p=${encodeBase64(proof)}`);
  }

  /** True if `serverFinal` carries the expected ServerSignature; false on `e=` or mismatch. */
  verify(serverFinal: Uint8Array): Promise<boolean> {
    if (this.#serverSignature === undefined) {
      return Promise.reject(new Error("Cannot verify SCRAM server: final() has not been called"));
    }
    const text = decodeUtf8(serverFinal);
    const attributes = text === null ? null : parseAttributes(text);
    const first = attributes?.[0];
    if (first === undefined || first[0] !== "v") return Promise.resolve(false);
    const signature = decodeBase64(first[1]);
    return Promise.resolve(
      signature !== null && timingSafeEqual(signature, this.#serverSignature),
    );
  }
}

/** The PLAIN message `NUL username NUL password` with no authzid, UTF-8 encoded. */
export function plainResponse(username: string, password: string): Uint8Array {
  return utf8(`\0${username}\0${password}`);
}
