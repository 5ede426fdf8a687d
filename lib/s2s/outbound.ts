// A stream we open to another server (RFC 6120 §4–§9): connect to the first place that answers
// (lib/s2s/resolve.ts), STARTTLS (or TLS at once for an `_xmpps-server` target, XEP-0368), judge
// the peer's certificate, then authenticate our domain: SASL EXTERNAL when the peer offers it
// (XEP-0178 §2), else dialback (XEP-0220 §2.1). It can also carry dialback verification
// requests (db:verify) as soon as TLS is up, before its own authentication is done.
import { openTcp } from "../net/client_socket.ts";
import { Transport, type TransportLimits } from "../net/transport.ts";
import { NS } from "../stanza/ns.ts";
import { el, type Element } from "../xml/element.ts";
import type { TrustStore } from "./certificates.ts";
import type { DialbackKeys } from "./dialback.ts";
import { resolveHost, type ResolverOptions, resolveServer, type ServerTarget } from "./resolve.ts";
import { parseJid } from "../jid/jid.ts";
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

/** ALPN protocol of server connections over direct TLS (XEP-0368 §3). */
export const ALPN_XMPP_SERVER = "xmpp-server";

/** What an outgoing stream needs. */
export interface OutboundOptions {
  resolver: ResolverOptions;
  connectTimeoutMs: number;
  /** Our certificate (offered as the TLS client certificate) and the roots we trust. */
  certificate: { certPem: string; keyPem: string };
  trust: TrustStore;
  requireEncryption: boolean;
  allowsDialbackOnly(domain: string): boolean;
  keys: DialbackKeys;
  limits: S2sStreamLimits;
  transportLimits: TransportLimits;
  log(line: string): void;
}

/** What the stream reports to its owner. */
export interface OutboundEvents {
  /** TLS is up (or not needed): dialback verification requests can go. */
  verifiable(stream: OutboundStream): void;
  /** Our domain is authenticated: stanzas can go. */
  ready(stream: OutboundStream, how: string): void;
  /** The answer to a db:verify we sent. */
  verified(id: string, valid: boolean): void;
  /**
   * XEP-0288: a stanza the peer sent back over this bidirectional stream, already checked to
   * come from its domain to ours.
   */
  stanza?(stanza: Element): void;
  /** The stream is over; `problem` says why when it never became ready or failed. */
  ended(stream: OutboundStream, problem?: { condition: string; text: string }): void;
}

/** Opens a TCP (or direct TLS) connection to the first target that accepts one. */
export async function connectServer(
  domain: string,
  options: OutboundOptions,
): Promise<{ transport: Transport; target: ServerTarget; problems: string[] }> {
  const targets = await resolveServer(domain, options.resolver);
  if (targets.length === 0) throw new Error(`${domain} publishes no XMPP server service`);
  const problems: string[] = [];
  for (const target of targets) {
    const addresses = await resolveHost(target.host, options.resolver) ?? [target.host];
    for (const address of addresses) {
      try {
        const socket = await openTcp(address, target.port, options.connectTimeoutMs);
        socket.setNoDelay(true);
        const transport = new Transport(socket, options.transportLimits);
        if (target.directTls) {
          await transport.startClientTls({
            servername: domain,
            ALPNProtocols: [ALPN_XMPP_SERVER],
            cert: options.certificate.certPem,
            key: options.certificate.keyPem,
            ca: options.trust.caPem,
          });
        }
        return { transport, target, problems };
      } catch (error) {
        problems.push(
          `${address}:${target.port}: ${error instanceof Error ? error.message : error}`,
        );
      }
    }
  }
  throw new Error(`cannot connect to ${domain} (${problems.join("; ")})`);
}

type Phase = "opening" | "tls" | "authenticating" | "restarting" | "ready";

/** One outgoing s2s connection for a pair of domains. */
export class OutboundStream extends S2sStream {
  readonly local: string;
  readonly remote: string;
  #options: OutboundOptions;
  #events: OutboundEvents;
  #phase: Phase = "opening";
  #streamId: string | undefined;
  #certificateProblem: string | null = null;
  #triedExternal = false;
  #verifiable = false;
  /** XEP-0288: we asked for stanzas to come back over this stream. */
  #bidi = false;
  #problem: { condition: string; text: string } | undefined;

  constructor(
    transport: Transport,
    local: string,
    remote: string,
    options: OutboundOptions,
    events: OutboundEvents,
  ) {
    super(transport, options.limits, options.log);
    this.local = local;
    this.remote = remote;
    this.#options = options;
    this.#events = events;
    this.startReading();
    if (transport.encrypted) this.#tlsUp();
    this.#open();
  }

  get isReady(): boolean {
    return this.#phase === "ready" && !this.isClosing;
  }

  get canVerify(): boolean {
    return this.#verifiable && !this.isClosing;
  }

  protected describe(): string {
    return `out ${this.local} → ${this.remote}`;
  }

  protected errorHeader(): void {
    this.#open();
  }

  #open(): void {
    this.sendHeader({ from: this.local, to: this.remote });
  }

  /** Ends with a reason the owner passes on to what was waiting. */
  fail(condition: string, text: string): void {
    this.#problem ??= { condition, text };
    this.log(`refused: ${text}`);
    this.close();
  }

  /** Sends a dialback verification request (XEP-0220 §2.3) once {@linkcode canVerify}. */
  verify(id: string, key: string): void {
    this.write(el("db:verify", { from: this.local, to: this.remote, id }, key).toString());
  }

  protected opened(attrs: Record<string, string>): void {
    this.#streamId = attrs.id;
    if (attrs.from !== undefined && attrs.from.toLowerCase() !== this.remote) {
      this.fail("remote-server-not-found", `answered as ${attrs.from}, not ${this.remote}`);
    }
  }

  protected element(element: Element): void {
    const ns = element.attrs.xmlns;
    if (element.name === "features" && ns === NS.STREAMS) return void this.#features(element);
    if (element.name === "error" && ns === NS.STREAMS) {
      const condition = element.elements().find((child) => child.attrs.xmlns === NS.STREAM_ERRORS);
      const text = element.getChildText("text", NS.STREAM_ERRORS);
      this.#problem ??= {
        condition: "remote-server-not-found",
        text: `stream error ${condition?.name ?? "?"}${text ? `: ${text}` : ""}`,
      };
      this.log(`peer sent ${this.#problem.text}`);
      return this.close();
    }
    if (element.name === "proceed" && ns === NS.TLS) return void this.#startTls();
    if (element.name === "failure" && ns === NS.TLS) {
      return this.fail("remote-server-not-found", "STARTTLS failed on the peer's side");
    }
    if (ns === NS.SASL && element.name === "success") {
      // RFC 6120 §6.4.6: a new stream; stanzas go once its features have come.
      this.#phase = "restarting";
      this.restartStream();
      return this.#open();
    }
    if (ns === NS.SASL && element.name === "failure") {
      this.log("SASL EXTERNAL refused; trying dialback");
      return void this.#dialback();
    }
    if (ns === NS_DIALBACK && element.name === "result") return this.#dialbackAnswer(element);
    if (ns === NS_DIALBACK && element.name === "verify") {
      const id = element.attrs.id;
      if (id !== undefined) this.#events.verified(id, element.attrs.type === "valid");
      return;
    }
    if (isStanza(element) && this.#bidi && this.#phase === "ready") return this.#stanza(element);
    // Without a bidirectional stream (XEP-0288), nothing else may come this way.
    this.closeWithError("unsupported-stanza-type", "This stream carries stanzas the other way");
  }

  async #features(features: Element): Promise<void> {
    if (this.#phase === "ready") return;
    if (this.#phase === "restarting") return this.#ready("SASL EXTERNAL");
    const starttls = features.getChild("starttls", NS.TLS);
    if (!this.transport.encrypted) {
      if (starttls) {
        this.#phase = "tls";
        return this.write(`<starttls xmlns='${NS.TLS}'/>`);
      }
      if (this.#options.requireEncryption) {
        return this.fail("remote-server-not-found", "the peer does not offer STARTTLS");
      }
      this.#certificateProblem = "no TLS";
    }
    this.#phase = "authenticating";
    // XEP-0288 §2.2: asked for before authentication, once TLS is up.
    if (
      !this.#bidi && this.#events.stanza !== undefined &&
      features.getChild("bidi", NS_BIDI_FEATURE) !== undefined
    ) {
      this.#bidi = true;
      this.write(`<bidi xmlns='${NS_BIDI}'/>`);
    }
    this.#verifiable = true;
    this.#events.verifiable(this);
    if (this.#certificateProblem !== null && !this.#options.allowsDialbackOnly(this.remote)) {
      return this.fail("remote-server-not-found", this.#certificateProblem);
    }
    const mechanisms = features.getChild("mechanisms", NS.SASL)?.getChildren("mechanism")
      .map((mechanism) => mechanism.getText().trim()) ?? [];
    if (
      this.#certificateProblem === null && !this.#triedExternal && mechanisms.includes("EXTERNAL")
    ) {
      this.#triedExternal = true;
      const authzid = new TextEncoder().encode(this.local).toBase64();
      return this.write(el("auth", { xmlns: NS.SASL, mechanism: "EXTERNAL" }, authzid).toString());
    }
    await this.#dialback(features);
  }

  async #dialback(features?: Element): Promise<void> {
    if (features && !features.getChild("dialback", NS_DIALBACK_FEATURE)) {
      // Older servers announce dialback only with the namespace on their header; try anyway.
      this.log("no dialback feature offered; trying dialback anyway");
    }
    if (this.#streamId === undefined) {
      return this.fail("remote-server-not-found", "the peer's stream has no id");
    }
    const key = await this.#options.keys.key(this.remote, this.local, this.#streamId);
    this.write(el("db:result", { from: this.local, to: this.remote }, key).toString());
  }

  #dialbackAnswer(result: Element): void {
    if (result.attrs.from?.toLowerCase() !== this.remote || result.attrs.to !== this.local) return;
    const type = result.attrs.type;
    if (type === "valid") {
      return this.#ready(
        this.#certificateProblem === null ? "dialback, certificate good" : "dialback",
      );
    }
    const condition = result.getChild("error")?.elements()[0]?.name;
    this.fail(
      "remote-server-not-found",
      `dialback ${type === "invalid" ? "refused" : `failed${condition ? ` (${condition})` : ""}`}`,
    );
  }

  async #startTls(): Promise<void> {
    this.restartStream();
    try {
      await this.transport.startClientTls({
        servername: this.remote,
        cert: this.#options.certificate.certPem,
        key: this.#options.certificate.keyPem,
        ca: this.#options.trust.caPem,
      });
    } catch (error) {
      return this.fail(
        "remote-server-not-found",
        `TLS failed: ${error instanceof Error ? error.message : error}`,
      );
    }
    this.#tlsUp();
    this.#open();
  }

  #tlsUp(): void {
    const peer = this.transport.peerCertificate();
    this.#certificateProblem = peer === null
      ? "no certificate"
      : this.#options.trust.problem(peer.certificate, this.remote, peer.authorized);
    if (this.#certificateProblem !== null) {
      this.log(`certificate not good: ${this.#certificateProblem}`);
    }
  }

  /**
   * XEP-0288 §2.2: the peer may send only for what it proved, the inverse of our pair: from its
   * domain to ours. Anything else ends the stream (RFC 6120 §4.9.3.9, §4.9.3.6).
   */
  #stanza(stanza: Element): void {
    let from: string;
    let to: string;
    try {
      const fromJid = parseJid(stanza.attrs.from ?? "");
      const toJid = parseJid(stanza.attrs.to ?? "");
      if (fromJid.domain !== this.remote || toJid.domain !== this.local) {
        this.log(`refused a stanza from ${fromJid.domain} to ${toJid.domain} on a bidi stream`);
        return this.closeWithError(
          fromJid.domain !== this.remote ? "invalid-from" : "host-unknown",
          `Only ${this.remote} → ${this.local} may come over this stream`,
        );
      }
      from = fromJid.full;
      to = toJid.full;
    } catch {
      return this.closeWithError("improper-addressing", "A stanza needs a valid 'from' and 'to'");
    }
    stanza.attrs.from = from;
    stanza.attrs.to = to;
    this.#events.stanza?.(fromWire(stanza));
  }

  #ready(how: string): void {
    this.#phase = "ready";
    this.log(`authenticated (${how}${this.#bidi ? ", bidirectional" : ""})`);
    this.#events.ready(this, how);
  }

  protected ended(): void {
    this.#events.ended(
      this,
      this.#phase === "ready" ? this.#problem : this.#problem ?? {
        condition: "remote-server-not-found",
        text: "the connection ended before authentication",
      },
    );
  }
}
