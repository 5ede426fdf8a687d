// SCRAM-SHA-1 and SCRAM-SHA-256, server side, without channel binding. RFC 5802 §3 (proof
// checks), §5 (exchange), §5.1 (attributes), §6 (channel binding flags), §7 (syntax), §9
// (not revealing unknown users); RFC 7677 (SCRAM-SHA-256); RFC 6120 §6.4.5, §6.5 (XMPP outcomes).
import { SCRAM_MECHANISM, type ScramCredentials, type ScramHash } from "./credentials.ts";
import type {
  SaslCredentialSource,
  SaslFailureCondition,
  SaslServerMechanism,
  SaslStep,
} from "./mechanism.ts";
import { DEFAULT_SCRAM_ITERATIONS } from "./scram.ts";
import { authzidMatches, prepQuery } from "./_identity.ts";
import {
  decodeBase64,
  decodeSaslname,
  decodeUtf8,
  digest,
  encodeBase64,
  hashLength,
  hmac,
  isPrintable,
  parseAttributes,
  randomNonce,
  timingSafeEqual,
  utf8,
  xor,
} from "./_scram_util.ts";

/** Options for {@linkcode createScramServer}. */
export interface ScramServerOptions {
  /** Makes the server's part of the nonce; random by default. Tests pin it to the RFC vectors. */
  nonce?: () => string;
  /** If set, an authzid of the form `user@host` must have this host. */
  domain?: string;
}

// Per-process key for fake salts: stable for one username while the process runs, so probing
// twice cannot tell a missing account from a real one, and unguessable across restarts.
let fakeSaltKey: Uint8Array | undefined;

async function fakeCredentials(hash: ScramHash, username: string): Promise<ScramCredentials> {
  fakeSaltKey ??= crypto.getRandomValues(new Uint8Array(32));
  const salt = (await hmac("SHA-256", fakeSaltKey, `${hash}\0${username}`)).slice(0, 16);
  const length = hashLength(hash);
  return {
    hash,
    salt,
    iterations: DEFAULT_SCRAM_ITERATIONS,
    storedKey: crypto.getRandomValues(new Uint8Array(length)),
    serverKey: crypto.getRandomValues(new Uint8Array(length)),
  };
}

function failure(condition: SaslFailureCondition, text?: string): SaslStep {
  return text === undefined ? { kind: "failure", condition } : { kind: "failure", condition, text };
}

type State =
  | { phase: "start"; challenged: boolean }
  | {
    phase: "first-sent";
    username: string;
    known: boolean;
    credentials: ScramCredentials;
    gs2Header: string;
    nonce: string;
    clientFirstBare: string;
    serverFirst: string;
  }
  | { phase: "done" };

class ScramServer implements SaslServerMechanism {
  readonly name: string;
  #hash: ScramHash;
  #source: SaslCredentialSource;
  #options: ScramServerOptions;
  #state: State = { phase: "start", challenged: false };

  constructor(hash: ScramHash, source: SaslCredentialSource, options: ScramServerOptions) {
    this.name = SCRAM_MECHANISM[hash];
    this.#hash = hash;
    this.#source = source;
    this.#options = options;
  }

  async step(response: Uint8Array | null): Promise<SaslStep> {
    const state = this.#state;
    if (state.phase === "start" && response === null && !state.challenged) {
      // No initial response: an empty challenge asks the client for client-first.
      this.#state = { phase: "start", challenged: true };
      return { kind: "challenge", data: new Uint8Array() };
    }
    // Whatever happens next, this exchange is over unless a step sets a new state.
    this.#state = { phase: "done" };
    if (state.phase === "done") return failure("malformed-request", "Exchange already finished");
    if (response === null) return failure("malformed-request", "Expected a SCRAM message");
    const text = decodeUtf8(response);
    if (text === null) return failure("malformed-request", "SCRAM message is not UTF-8");
    if (state.phase === "start") return await this.#clientFirst(text);
    return await this.#clientFinal(state, text);
  }

  async #clientFirst(text: string): Promise<SaslStep> {
    // gs2-header = gs2-cbind-flag "," [ authzid ] ","
    const first = text.indexOf(",");
    const second = first < 0 ? -1 : text.indexOf(",", first + 1);
    if (second < 0) return failure("malformed-request", "Missing GS2 header");
    const flag = text.slice(0, first);
    if (flag.startsWith("p=")) {
      // We never offer -PLUS, so a client asking for channel binding is not following the
      // exchange we started. Prosody answers the same.
      return failure("malformed-request", "Channel binding is not supported");
    }
    // "y" means the client could bind but thinks we cannot, which is true: no downgrade.
    if (flag !== "n" && flag !== "y") return failure("malformed-request", "Bad GS2 header");
    const authzPart = text.slice(first + 1, second);
    let authzid = "";
    if (authzPart !== "") {
      const decoded = authzPart.startsWith("a=") ? decodeSaslname(authzPart.slice(2)) : null;
      if (decoded === null || decoded === "") return failure("malformed-request", "Bad authzid");
      authzid = decoded;
    }
    const gs2Header = text.slice(0, second + 1);
    const clientFirstBare = text.slice(second + 1);

    const attributes = parseAttributes(clientFirstBare);
    if (attributes === null || attributes.length < 2) {
      return failure("malformed-request", "Bad client-first-message");
    }
    if (attributes[0][0] === "m") {
      return failure("malformed-request", "Mandatory extensions are not supported");
    }
    const [[nName, nValue], [rName, clientNonce]] = attributes;
    if (nName !== "n" || rName !== "r") {
      return failure("malformed-request", "Bad client-first-message");
    }
    // Later attributes are optional extensions (RFC 5802 §5.1), which we may ignore.
    const decodedName = decodeSaslname(nValue);
    const username = decodedName === null ? null : prepQuery(decodedName);
    if (username === null || username === "") return failure("malformed-request", "Bad username");
    if (!isPrintable(clientNonce)) return failure("malformed-request", "Bad nonce");
    if (!authzidMatches(authzid, username, this.#options.domain)) {
      return failure("invalid-authzid");
    }

    const serverPart = this.#options.nonce?.() ?? randomNonce();
    if (!isPrintable(serverPart)) {
      throw new TypeError(
        `Cannot start SCRAM exchange: server nonce "${serverPart}" is not printable`,
      );
    }
    const stored = await this.#source.scram(username, this.#hash);
    // Unknown users get the same shape of challenge and fail only at the proof (RFC 5802 §9).
    const credentials = stored ?? await fakeCredentials(this.#hash, username);
    const nonce = clientNonce + serverPart;
    const serverFirst = `r=${nonce},s=${
      encodeBase64(credentials.salt)
    },i=${credentials.iterations}`;
    this.#state = {
      phase: "first-sent",
      username,
      known: stored !== null,
      credentials,
      gs2Header,
      nonce,
      clientFirstBare,
      serverFirst,
    };
    return { kind: "challenge", data: utf8(serverFirst) };
  }

  async #clientFinal(
    state: Extract<State, { phase: "first-sent" }>,
    text: string,
  ): Promise<SaslStep> {
    // client-final-message = channel-binding "," nonce ["," extensions] "," proof
    const attributes = parseAttributes(text);
    if (attributes === null || attributes.length < 3) {
      return failure("malformed-request", "Bad client-final-message");
    }
    const [[cName, cValue], [rName, nonce]] = attributes;
    const [pName, pValue] = attributes[attributes.length - 1];
    if (cName !== "c" || rName !== "r" || pName !== "p") {
      return failure("malformed-request", "Bad client-final-message");
    }
    const binding = decodeBase64(cValue);
    const proof = decodeBase64(pValue);
    if (binding === null || proof === null) {
      return failure("malformed-request", "Bad base64 in client-final-message");
    }
    // Without channel binding, c= carries the GS2 header back unchanged ("biws" for "n,,").
    // A mismatch or a foreign nonce means a replayed or altered message: refuse, not explain.
    if (!timingSafeEqual(binding, utf8(state.gs2Header)) || nonce !== state.nonce) {
      return failure("not-authorized");
    }
    if (proof.length !== hashLength(this.#hash)) return failure("not-authorized");

    const withoutProof = text.slice(0, text.lastIndexOf(","));
    const authMessage = `${state.clientFirstBare},${state.serverFirst},${withoutProof}`;
    const { storedKey, serverKey } = state.credentials;
    const clientSignature = await hmac(this.#hash, storedKey, authMessage);
    const clientKey = xor(proof, clientSignature);
    const matches = timingSafeEqual(await digest(this.#hash, clientKey), storedKey);
    if (!matches || !state.known) return failure("not-authorized");

    const serverSignature = await hmac(this.#hash, serverKey, authMessage);
    return {
      kind: "success",
      username: state.username,
      data: utf8(`v=${encodeBase64(serverSignature)}`),
    };
  }
}

/**
 * Creates one server-side SCRAM exchange for `hash` (`SCRAM-SHA-1` or `SCRAM-SHA-256`).
 *
 * Without channel binding: `n,,` and `y,,` are accepted, `p=` fails with `malformed-request`.
 * Errors thrown by `source` propagate; answer them with `temporary-auth-failure`.
 *
 * @example
 * ```ts
 * const mechanism = createScramServer("SHA-256", source);
 * const step = await mechanism.step(initialResponse); // then one step per <response/>
 * ```
 */
export function createScramServer(
  hash: ScramHash,
  source: SaslCredentialSource,
  options: ScramServerOptions = {},
): SaslServerMechanism {
  return new ScramServer(hash, source, options);
}
