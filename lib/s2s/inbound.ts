// A stream another server opened to us (RFC 6120 §4–§9): our header and features, STARTTLS
// (with the peer's certificate asked for), then authentication of the peer's domain by SASL
// EXTERNAL when its certificate is good for it (XEP-0178 §2), or by dialback (XEP-0220 §2.2:
// we ask the peer's authoritative server whether its key is right). A stream may carry several
// domain pairs (dialback's multiplexing, XEP-0220 §4); every stanza is checked against them:
// 'from' must be a domain the peer proved, 'to' one of ours it proved it for (§4.9.3.9).
import type { SecureContext } from "node:tls";
import { type Jid, parseJid } from "../jid/jid.ts";
import type { Transport } from "../net/transport.ts";
import { NS } from "../stanza/ns.ts";
import { el, type Element } from "../xml/element.ts";
import type { TrustStore } from "./certificates.ts";
import type { DialbackKeys } from "./dialback.ts";
import {
  fromWire,
  isStanza,
  NS_BIDI,
  NS_BIDI_FEATURE,
  NS_DIALBACK,
  NS_DIALBACK_FEATURE,
  S2sStream,
  type S2sStreamLimits,
} from "./stream.ts";

/** What an incoming stream needs from the s2s service. */
export interface InboundOptions {
  /** Whether we serve this domain (the server's or a component's). */
  isLocal(domain: string): boolean;
  secureContext: SecureContext;
  requireEncryption: boolean;
  trust: TrustStore;
  /** Whether a peer whose certificate is not good may still authenticate by dialback. */
  allowsDialbackOnly(domain: string): boolean;
  keys: DialbackKeys;
  /** Asks `originating`'s authoritative server whether `key` is right (XEP-0220 §2.3). */
  verifyDialback(
    receiving: string,
    originating: string,
    streamId: string,
    key: string,
  ): Promise<boolean>;
  /** Hands an authenticated stanza to the router. */
  route(stanza: Element): void;
  limits: S2sStreamLimits;
  /** Input rate once a domain is authenticated. */
  authenticatedRate: { perSecond: number; burst: number };
  /** Time allowed until the first domain is authenticated. */
  negotiationTimeoutMs: number;
  /** An authenticated stream that carried nothing for this long is closed. */
  idleTimeoutMs: number;
  log(line: string): void;
  ended(stream: InboundStream): void;
  /**
   * XEP-0288: a domain pair was authenticated on a stream the peer made bidirectional, so that
   * stanzas from `local` to `remote` may now go over it.
   */
  bidirectional?(stream: InboundStream, local: string, remote: string): void;
}

/**
 * Dialback requests one stream may have waiting for their verification, and domain pairs it may
 * prove in all: each verification makes this server connect out, so a peer may not ask for many.
 */
const MAX_PENDING_DIALBACK = 4;
const MAX_PAIRS = 32;

/** One incoming s2s connection. */
export class InboundStream extends S2sStream {
  /** The current stream's id (a new one for each stream header we send). */
  id = crypto.randomUUID();
  #options: InboundOptions;
  /** The domain of ours the peer's header named. */
  #to: string | undefined;
  /** The domain the peer's header claimed to be. */
  #from: string | undefined;
  /** "originating receiving" pairs the peer has proved. */
  #pairs = new Set<string>();
  #saslDone = false;
  #pendingDialback = 0;
  /** XEP-0288: the peer asked for stanzas to come back over this stream. */
  #bidi = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastActivity = Date.now();
  /** Certificate verdict per domain, once asked. */
  #certificateProblems = new Map<string, string | null>();

  constructor(transport: Transport, options: InboundOptions) {
    super(transport, options.limits, options.log);
    this.#options = options;
    this.#timer = setTimeout(() => {
      if (this.#pairs.size === 0) {
        return this.closeWithError("connection-timeout", "Authentication took too long");
      }
      this.#idleCheck();
    }, options.negotiationTimeoutMs);
    this.startReading();
  }

  /** The domains the peer has authenticated on this stream. */
  get remoteDomains(): string[] {
    return [...new Set([...this.#pairs].map((pair) => pair.split(" ")[0]))];
  }

  protected describe(): string {
    return `in ${this.#from ?? this.transport.remoteAddress}`;
  }

  #idleCheck(): void {
    const idle = Date.now() - this.#lastActivity;
    if (idle >= this.#options.idleTimeoutMs) {
      this.log("idle; closing");
      return this.close();
    }
    this.#timer = setTimeout(() => this.#idleCheck(), this.#options.idleTimeoutMs - idle + 10);
  }

  protected errorHeader(): void {
    this.sendHeader({ id: this.id, from: this.#to });
  }

  protected opened(attrs: Record<string, string>): void {
    const to = attrs.to?.toLowerCase();
    if (to !== undefined && !this.#options.isLocal(to)) {
      return this.closeWithError("host-unknown", `This server does not serve ${to}`);
    }
    if (attrs.version === undefined || !attrs.version.startsWith("1.")) {
      // Pre-1.0 dialback-only peers (no features) are not supported: they cannot do STARTTLS.
      return this.closeWithError("unsupported-version", "Only XMPP 1.0 streams are supported");
    }
    this.#to ??= to;
    this.id = crypto.randomUUID();
    if (attrs.from !== undefined) this.#from = attrs.from.toLowerCase();
    this.sendHeader({ id: this.id, from: to, to: this.#from });
    this.write(this.#features().toString());
  }

  #features(): Element {
    const features = el("stream:features");
    const encrypted = this.transport.encrypted;
    if (!encrypted) {
      features.append(
        el("starttls", { xmlns: NS.TLS }, this.#options.requireEncryption ? el("required") : null),
      );
      if (this.#options.requireEncryption) return features;
    }
    // XEP-0288 §2.1: offered with the other features (after TLS, when TLS is required).
    if (this.#options.bidirectional !== undefined && !this.#bidi) {
      features.append(el("bidi", { xmlns: NS_BIDI_FEATURE }));
    }
    if (this.#saslDone) return features;
    // XEP-0178 §2: EXTERNAL only when the certificate is good for the domain the peer claims.
    if (encrypted && this.#from !== undefined && this.#certificateProblem(this.#from) === null) {
      features.append(
        el("mechanisms", { xmlns: NS.SASL }, el("mechanism", {}, "EXTERNAL")),
      );
    }
    features.append(el("dialback", { xmlns: NS_DIALBACK_FEATURE }, el("errors")));
    return features;
  }

  /** Why the peer's certificate is not good for `domain`, or null. */
  #certificateProblem(domain: string): string | null {
    if (this.#certificateProblems.has(domain)) return this.#certificateProblems.get(domain)!;
    const peer = this.transport.peerCertificate();
    const problem = peer === null
      ? "no certificate"
      : this.#options.trust.problem(peer.certificate, domain);
    this.#certificateProblems.set(domain, problem);
    return problem;
  }

  protected element(element: Element): void {
    this.#lastActivity = Date.now();
    const ns = element.attrs.xmlns;
    if (element.name === "starttls" && ns === NS.TLS) return this.#startTls();
    if (element.name === "error" && ns === NS.STREAMS) {
      const condition = element.elements().find((child) => child.attrs.xmlns === NS.STREAM_ERRORS);
      this.log(`peer sent stream error ${condition?.name ?? "?"}`);
      return this.close();
    }
    if (this.#options.requireEncryption && !this.transport.encrypted) {
      return this.closeWithError("policy-violation", "Use STARTTLS first");
    }
    if (ns === NS_BIDI && element.name === "bidi") {
      if (this.#options.bidirectional === undefined) {
        return this.closeWithError("unsupported-stanza-type", "Bidirectional streams are off");
      }
      this.#bidi = true;
      // Pairs proved before the request count too (XEP-0288 asks for it before, not only).
      for (const pair of this.#pairs) {
        const [originating, receiving] = pair.split(" ");
        this.#options.bidirectional(this, receiving, originating);
      }
      return;
    }
    if (ns === NS.SASL && element.name === "auth") return this.#saslExternal(element);
    if (ns === NS_DIALBACK && element.name === "result") return void this.#dialbackResult(element);
    if (ns === NS_DIALBACK && element.name === "verify") return void this.#dialbackVerify(element);
    if (isStanza(element)) return this.#stanza(element);
    this.closeWithError("unsupported-stanza-type", `<${element.name}/> is not handled here`);
  }

  #startTls(): void {
    if (this.transport.encrypted) return this.closeWithError("policy-violation", "TLS is on");
    this.restartStream();
    this.transport.startTls(`<proceed xmlns='${NS.TLS}'/>`, this.#options.secureContext, {
      requestCert: true,
    }).catch((error) => this.log(`TLS failed: ${error instanceof Error ? error.message : error}`));
  }

  /** XEP-0178 §2: EXTERNAL with an authzid of the peer's domain (or none: the header's). */
  #saslExternal(auth: Element): void {
    const failure = (condition: string, text: string) => {
      this.log(`refused SASL EXTERNAL: ${text}`);
      this.write(
        el("failure", { xmlns: NS.SASL }, el(condition), el("text", {}, text)).toString(),
      );
    };
    if (auth.attrs.mechanism !== "EXTERNAL") {
      return failure("invalid-mechanism", "Only EXTERNAL is offered");
    }
    if (this.#saslDone) return failure("aborted", "Already authenticated");
    const given = auth.getText().trim();
    let domain = this.#from;
    if (given !== "" && given !== "=") {
      try {
        domain = new TextDecoder().decode(Uint8Array.fromBase64(given)).toLowerCase();
      } catch {
        return failure("incorrect-encoding", "The authorization identity is not base64");
      }
    }
    if (domain === undefined || this.#to === undefined) {
      return failure("not-authorized", "The stream header had no 'from' or 'to'");
    }
    if (domain !== this.#from) {
      return failure("invalid-authzid", `${domain} is not the domain of the stream header`);
    }
    if (this.#options.isLocal(domain)) return failure("not-authorized", `${domain} is served here`);
    const problem = this.#certificateProblem(domain);
    if (problem !== null) return failure("not-authorized", problem);
    this.#saslDone = true;
    this.write(`<success xmlns='${NS.SASL}'/>`);
    this.restartStream();
    this.#authenticate(domain, this.#to, "SASL EXTERNAL");
  }

  #authenticate(originating: string, receiving: string, how: string): void {
    const first = this.#pairs.size === 0;
    this.#pairs.add(`${originating} ${receiving}`);
    this.log(
      `authenticated ${originating} → ${receiving} (${how}${this.#bidi ? ", bidirectional" : ""})`,
    );
    if (first) this.transport.setInputRate(this.#options.authenticatedRate);
    // XEP-0288 §2.2: stanzas may now go back, for the inverse of the proved pair.
    if (this.#bidi) this.#options.bidirectional?.(this, receiving, originating);
  }

  /** XEP-0220 §2.2–§2.4: the peer says it is `from`; its authoritative server must agree. */
  async #dialbackResult(result: Element): Promise<void> {
    const from = result.attrs.from?.toLowerCase();
    const to = result.attrs.to?.toLowerCase();
    const key = result.getText().trim();
    const answer = (type: string, error?: Element) =>
      this.write(el("db:result", { from: to, to: from, type }, error).toString());
    if (from === undefined || to === undefined || key === "") {
      return this.closeWithError("invalid-xml", "db:result needs from, to and a key");
    }
    if (!this.#options.isLocal(to)) {
      // XEP-0220 §2.4 (errors): an unknown receiving domain.
      return answer(
        "error",
        el("error", { type: "cancel" }, el("item-not-found", { xmlns: NS.STANZA_ERRORS })),
      );
    }
    if (this.#options.isLocal(from)) {
      this.log(`refused a peer claiming to be ${from}, which is served here`);
      return answer(
        "error",
        el("error", { type: "auth" }, el("not-authorized", { xmlns: NS.STANZA_ERRORS })),
      );
    }
    const problem = this.#certificateProblem(from);
    if (problem !== null && !this.#options.allowsDialbackOnly(from)) {
      this.log(`refused ${from}: ${problem}, and it is not allowed dialback without one`);
      return answer(
        "error",
        el("error", { type: "auth" }, el("not-authorized", { xmlns: NS.STANZA_ERRORS })),
      );
    }
    if (this.#pendingDialback >= MAX_PENDING_DIALBACK || this.#pairs.size >= MAX_PAIRS) {
      return this.closeWithError("policy-violation", "Too many dialback requests on one stream");
    }
    let valid = false;
    this.#pendingDialback++;
    try {
      valid = await this.#options.verifyDialback(to, from, this.id, key);
    } catch (error) {
      this.log(
        `dialback check for ${from} failed: ${error instanceof Error ? error.message : error}`,
      );
      if (this.isClosing) return;
      return answer(
        "error",
        el("error", { type: "cancel" }, el("remote-server-not-found", { xmlns: NS.STANZA_ERRORS })),
      );
    } finally {
      this.#pendingDialback--;
    }
    if (this.isClosing) return;
    if (!valid) {
      this.log(`refused ${from}: its authoritative server says the dialback key is wrong`);
      answer("invalid");
      return this.close();
    }
    answer("valid");
    this.#authenticate(from, to, problem === null ? "dialback, certificate good" : "dialback");
  }

  /** XEP-0220 §2.3: another server asks whether a key we handed out is right. */
  async #dialbackVerify(verify: Element): Promise<void> {
    const from = verify.attrs.from?.toLowerCase();
    const to = verify.attrs.to?.toLowerCase();
    const id = verify.attrs.id;
    if (from === undefined || to === undefined || id === undefined) {
      return this.closeWithError("invalid-xml", "db:verify needs from, to and id");
    }
    if (!this.#options.isLocal(to)) {
      return this.write(
        el(
          "db:verify",
          { from: to, to: from, id, type: "error" },
          el("error", { type: "cancel" }, el("item-not-found", { xmlns: NS.STANZA_ERRORS })),
        ).toString(),
      );
    }
    const valid = await this.#options.keys.check(from, to, id, verify.getText());
    this.write(
      el("db:verify", { from: to, to: from, id, type: valid ? "valid" : "invalid" }).toString(),
    );
  }

  #stanza(stanza: Element): void {
    let from: Jid;
    let to: Jid;
    try {
      from = parseJid(stanza.attrs.from ?? "");
      to = parseJid(stanza.attrs.to ?? "");
    } catch {
      // RFC 6120 §8.1.1.2, §8.1.2.2: both are required on s2s and must be JIDs.
      return this.closeWithError("improper-addressing", "A stanza needs a valid 'from' and 'to'");
    }
    if (!this.#pairs.has(`${from.domain} ${to.domain}`)) {
      const known = this.remoteDomains.includes(from.domain);
      this.log(`refused a stanza from ${from.domain} to ${to.domain}: not authenticated`);
      return this.closeWithError(
        known ? "host-unknown" : "invalid-from",
        known
          ? `${to.domain} was not authenticated on this stream`
          : `${from.domain} was not authenticated on this stream`,
      );
    }
    stanza.attrs.from = from.full;
    stanza.attrs.to = to.full;
    this.#options.route(fromWire(stanza));
  }

  protected ended(): void {
    clearTimeout(this.#timer);
    this.#options.ended(this);
  }
}
