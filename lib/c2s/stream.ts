// A client-to-server stream (RFC 6120 §4–§7): header, features, STARTTLS,
// SASL, resource binding and the legacy session iq, then stanzas to the router.
import type { SecureContext } from "node:tls";
import { type Jid, JidError, parseJid, prepResource } from "../jid/jid.ts";
import type { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import type { SaslServerMechanism } from "../sasl/mechanism.ts";
import { NS } from "../stanza/ns.ts";
import { errorReply, reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import type { KeyedBuckets } from "../net/token_bucket.ts";
import type { Transport } from "../net/transport.ts";
import { el, type Element } from "../xml/element.ts";
import { type ParserErrorCondition, StreamParser } from "../xml/stream_parser.ts";
import { type StreamErrorCondition, streamErrorXml } from "./stream_error.ts";
import type { PreAuthRegistration } from "./register.ts";

/** Limits and timings of a c2s stream. */
export interface C2sLimits {
  maxStanzaBytes: number;
  maxDepth: number;
  /** Failed SASL attempts allowed per stream before it is closed. */
  authAttempts: number;
  /** Delay before answering a failed SASL attempt (slows guessing). */
  authFailureDelayMs: number;
  /** Time allowed from connect to a bound resource. */
  negotiationTimeoutMs: number;
  /** Input rate once authenticated: bytes per second, and burst. */
  c2sRateBytes: number;
  c2sBurstBytes: number;
  /** Time allowed to log in while the server is under connection pressure. */
  pressureNegotiationTimeoutMs: number;
}

/** What a c2s stream needs from the server. */
export interface C2sOptions {
  domain: string;
  router: Router;
  secureContext: SecureContext;
  /** Refuse SASL until STARTTLS has completed. */
  tlsRequired: boolean;
  limits: C2sLimits;
  /** SASL mechanism names to offer, strongest first. */
  mechanisms(encrypted: boolean): string[];
  /** A fresh server-side mechanism by name. */
  createMechanism(name: string): SaslServerMechanism;
  log(line: string): void;
  /** In-band registration before authentication (XEP-0077 §3.1); without it, refused. */
  registration?: PreAuthRegistration;
  /** Called once when the stream is gone. */
  closed(stream: C2sStream): void;
  /** Failed authentications by remote address, shared by every stream. */
  authFailuresByAddress: KeyedBuckets;
  /** Whether so many connections are open that slow logins should make room. */
  underPressure(): boolean;
}

type Phase = "connected" | "authenticated" | "bound" | "closing";

let nextStreamNumber = 1;

/** One client connection, from TCP accept to close. */
export class C2sStream implements BoundSession {
  readonly id: string;
  jid!: Jid;
  presence: Element | null = null;
  priority = 0;
  readonly directedPresence = new Set<string>();

  #options: C2sOptions;
  #transport: Transport;
  #parser: StreamParser;
  #phase: Phase = "connected";
  #headerSent = false;
  #username = "";
  #sasl: SaslServerMechanism | null = null;
  #authFailures = 0;
  #bound = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #queue: Element[] = [];
  #busy = false;
  #ended = false;

  constructor(transport: Transport, options: C2sOptions) {
    this.id = `c2s${(nextStreamNumber++).toString(36)}`;
    this.#transport = transport;
    this.#options = options;
    this.#parser = new StreamParser({
      streamOpen: (name, ns, attrs) => this.#streamOpened(name, ns, attrs),
      stanza: (stanza) => this.#received(stanza),
      streamClose: () => this.close(),
      error: (condition, text) => this.#parseError(condition, text),
    }, { maxStanzaSize: options.limits.maxStanzaBytes, maxDepth: options.limits.maxDepth });
    const { negotiationTimeoutMs, pressureNegotiationTimeoutMs } = options.limits;
    const connectedAt = Date.now();
    const expire = () => {
      const left = negotiationTimeoutMs - (Date.now() - connectedAt);
      if (left > 0 && !options.underPressure()) {
        // Looked at again every pressure timeout, so pressure that comes later counts.
        this.#timer = setTimeout(expire, Math.min(left, pressureNegotiationTimeoutMs));
        return;
      }
      this.closeWithError(
        "connection-timeout",
        left > 0 ? "The server is busy: log in sooner" : "Authentication took too long",
      );
    };
    this.#timer = setTimeout(expire, Math.min(negotiationTimeoutMs, pressureNegotiationTimeoutMs));
    transport.start({
      data: (bytes) => this.#parser.write(bytes),
      closed: () => this.#ended || this.#end(),
      overflow: (queued) =>
        this.closeWithError(
          "policy-violation",
          `${queued} bytes wait for a client that does not read`,
        ),
    });
  }

  /** Serializes and queues a stanza for the client. */
  send(stanza: Element): void {
    this.#transport.write(stanza.toString(NS.CLIENT));
  }

  /** Queues an already serialized stanza for the client. */
  sendXml(xml: string): void {
    this.#transport.write(xml);
  }

  /** Sends a stream error and closes (RFC 6120 §4.9.1.1). */
  closeWithError(condition: StreamErrorCondition | string, text?: string): void {
    if (this.#phase === "closing") return;
    this.#log(`stream error ${condition}${text ? `: ${text}` : ""}`);
    this.#sendHeaderIfNeeded();
    this.#transport.write(streamErrorXml(condition as StreamErrorCondition, text));
    this.close();
  }

  /** Ends the stream cleanly (our `</stream:stream>`, then the socket). */
  close(): void {
    if (this.#phase === "closing") return;
    this.#phase = "closing";
    this.#sendHeaderIfNeeded();
    this.#transport.write("</stream:stream>");
    this.#transport.close();
  }

  #log(line: string): void {
    this.#options.log(
      `${this.id} ${this.#bound ? this.jid.full : this.#transport.remoteAddress} ${line}`,
    );
  }

  #sendHeaderIfNeeded(): void {
    if (this.#headerSent) return;
    this.#headerSent = true;
    this.#transport.write(
      `<?xml version='1.0'?><stream:stream xmlns='${NS.CLIENT}' xmlns:stream='${NS.STREAMS}' ` +
        `id='${crypto.randomUUID()}' from='${this.#options.domain}' version='1.0' xml:lang='en'>`,
    );
  }

  #parseError(condition: ParserErrorCondition, text: string): void {
    this.closeWithError(condition, text);
  }

  /** After `<proceed/>` and SASL success the client opens a new stream, and so do we. */
  #expectNewStream(): void {
    this.#parser.reset();
    this.#headerSent = false;
    // Stanzas of the old stream still queued behind an async handler end with it: after
    // STARTTLS they are plaintext that anyone on the path may have appended.
    this.#queue = [];
  }

  #streamOpened(name: string, ns: string, attrs: Record<string, string>): void {
    if (name !== "stream" || ns !== NS.STREAMS) {
      return this.closeWithError("invalid-namespace", "Expected a stream in the streams namespace");
    }
    if (attrs.xmlns !== NS.CLIENT) {
      return this.closeWithError(
        "invalid-namespace",
        "The default namespace must be jabber:client",
      );
    }
    if (attrs.to !== undefined && attrs.to.toLowerCase() !== this.#options.domain) {
      return this.closeWithError("host-unknown", `This server does not serve ${attrs.to}`);
    }
    if (attrs.version === undefined || !attrs.version.startsWith("1.")) {
      return this.closeWithError("unsupported-version", "Only XMPP 1.0 streams are supported");
    }
    this.#sendHeaderIfNeeded();
    this.#transport.write(this.#features().toString());
  }

  #features(): Element {
    const features = el("stream:features");
    const encrypted = this.#transport.encrypted;
    if (this.#phase === "connected") {
      if (!encrypted) {
        features.append(
          el("starttls", { xmlns: NS.TLS }, this.#options.tlsRequired ? el("required") : undefined),
        );
      }
      if (encrypted || !this.#options.tlsRequired) {
        features.append(
          el(
            "mechanisms",
            { xmlns: NS.SASL },
            ...this.#options.mechanisms(encrypted).map((m) => el("mechanism", {}, m)),
          ),
        );
      }
      // XEP-0077 stream feature: offered only where passwords cannot be read in transit.
      if (encrypted && this.#options.registration?.allowed) {
        features.append(el("register", { xmlns: NS.REGISTER_FEATURE }));
      }
    } else if (this.#phase === "authenticated") {
      features.append(el("bind", { xmlns: NS.BIND }));
      features.append(el("session", { xmlns: NS.SESSION }, el("optional")));
      // Features of the modules, e.g. roster versioning and pre-approval (RFC 6121 §2.6, §3.4).
      for (const feature of this.#options.router.streamFeatures) features.append(feature);
    }
    return features;
  }

  /** Stanzas are handled one at a time, in order, even when a handler is async. */
  #received(stanza: Element): void {
    if (this.#busy) {
      this.#queue.push(stanza);
      return;
    }
    this.#run(stanza);
  }

  #run(stanza: Element): void {
    let result: void | Promise<void>;
    try {
      result = this.#handle(stanza);
    } catch (error) {
      this.#internalError(stanza, error);
      return this.#next();
    }
    if (result instanceof Promise) {
      this.#busy = true;
      result.catch((error) => this.#internalError(stanza, error)).finally(() => {
        this.#busy = false;
        this.#next();
      });
    } else {
      this.#next();
    }
  }

  #next(): void {
    while (!this.#busy && this.#queue.length > 0) this.#run(this.#queue.shift()!);
  }

  #internalError(stanza: Element, error: unknown): void {
    this.#log(`error handling <${stanza.name}>: ${error instanceof Error ? error.stack : error}`);
    this.closeWithError("internal-server-error");
  }

  #handle(stanza: Element): void | Promise<void> {
    if (this.#phase === "closing") return;
    if (this.#phase === "bound") return this.#stanza(stanza);
    const ns = stanza.attrs.xmlns;
    if (this.#phase === "connected") {
      if (ns === NS.TLS && stanza.name === "starttls") return this.#startTls();
      if (ns === NS.SASL) return this.#saslElement(stanza);
      if (stanza.name === "iq" && ns === NS.CLIENT && stanza.getChild("query", NS.REGISTER)) {
        return this.#preAuthRegister(stanza);
      }
      return this.closeWithError("not-authorized", "Authenticate first");
    }
    // authenticated, not bound yet
    if (stanza.name === "iq" && ns === NS.CLIENT) {
      if (stanza.getChild("bind", NS.BIND) && stanza.attrs.type === "set") {
        return this.#bind(stanza);
      }
      if (stanza.getChild("session", NS.SESSION)) return this.send(reply(stanza));
      const error = errorReply(
        stanza,
        new StanzaError("cancel", "not-allowed", { text: "Bind a resource first" }),
      );
      if (error) this.send(error);
      return;
    }
    return this.closeWithError("not-authorized", "Bind a resource first");
  }

  /** XEP-0077 §3.1: registration iqs are the only stanzas allowed before authentication. */
  async #preAuthRegister(stanza: Element): Promise<void> {
    let answer: Element | undefined;
    try {
      const registration = this.#options.registration;
      if (registration === undefined) {
        throw new StanzaError("cancel", "not-allowed", {
          text: "In-band registration is disabled",
        });
      }
      answer = await registration.handle(stanza, {
        encrypted: this.#transport.encrypted,
        address: this.#transport.remoteAddress,
      });
    } catch (error) {
      if (!(error instanceof StanzaError)) throw error;
      answer = errorReply(stanza, error);
    }
    if (answer && this.#phase !== "closing") this.send(answer);
  }

  async #startTls(): Promise<void> {
    if (this.#transport.encrypted) {
      return this.closeWithError("policy-violation", "TLS is already active");
    }
    // The old stream ends here: the client's new header may arrive before the handshake's
    // promise settles, and the header we answer it with must be the only one.
    this.#expectNewStream();
    try {
      await this.#transport.startTls(
        el("proceed", { xmlns: NS.TLS }).toString(),
        this.#options.secureContext,
      );
    } catch (error) {
      this.#log(`TLS handshake failed: ${error instanceof Error ? error.message : error}`);
      this.#transport.destroy();
    }
  }

  #saslElement(stanza: Element): void | Promise<void> {
    if (this.#options.tlsRequired && !this.#transport.encrypted) {
      return this.#saslFailure("encryption-required", "Use STARTTLS first");
    }
    switch (stanza.name) {
      case "auth": {
        const name = stanza.attrs.mechanism ?? "";
        if (!this.#options.mechanisms(this.#transport.encrypted).includes(name)) {
          return this.#saslFailure("invalid-mechanism");
        }
        if (!this.#options.authFailuresByAddress.has(this.#transport.remoteAddress)) {
          // No SCRAM work for an address that keeps failing (RFC 6120 §6.5.11).
          return this.#saslFailure(
            "temporary-auth-failure",
            "Too many failed attempts from your address; try again later",
          );
        }
        this.#sasl = this.#options.createMechanism(name);
        const text = stanza.getText().trim();
        const initial = text === "" ? null : text === "=" ? new Uint8Array() : decodeBase64(text);
        if (initial === undefined) return this.#saslFailure("incorrect-encoding");
        return this.#saslStep(initial);
      }
      case "response": {
        if (!this.#sasl) {
          return this.closeWithError("not-authorized", "No SASL exchange in progress");
        }
        const data = decodeBase64(stanza.getText().trim());
        if (data === undefined) return this.#saslFailure("incorrect-encoding");
        return this.#saslStep(data);
      }
      case "abort":
        this.#sasl = null;
        return this.#saslFailure("aborted");
      default:
        return this.closeWithError("unsupported-stanza-type");
    }
  }

  async #saslStep(data: Uint8Array | null): Promise<void> {
    const step = await this.#sasl!.step(data);
    if (step.kind === "challenge") {
      this.#transport.write(
        el("challenge", { xmlns: NS.SASL }, encodeBase64(step.data)).toString(),
      );
      return;
    }
    this.#sasl = null;
    if (step.kind === "failure") {
      this.#log(`SASL failure: ${step.condition}`);
      this.#options.authFailuresByAddress.tryTake(this.#transport.remoteAddress);
      await delay(this.#options.limits.authFailureDelayMs);
      return this.#saslFailure(step.condition, step.text);
    }
    this.#username = step.username;
    this.#phase = "authenticated";
    this.#expectNewStream();
    const { c2sRateBytes, c2sBurstBytes } = this.#options.limits;
    this.#transport.setInputRate({ perSecond: c2sRateBytes, burst: c2sBurstBytes });
    this.#transport.write(
      el("success", { xmlns: NS.SASL }, step.data ? encodeBase64(step.data) : undefined).toString(),
    );
    this.#log(`authenticated as ${step.username}`);
  }

  #saslFailure(condition: string, text?: string): void {
    this.#transport.write(
      el(
        "failure",
        { xmlns: NS.SASL },
        el(condition),
        text ? el("text", {}, text) : undefined,
      ).toString(),
    );
    if (condition === "aborted" || condition === "encryption-required") return;
    if (++this.#authFailures >= this.#options.limits.authAttempts) {
      this.closeWithError("policy-violation", "Too many failed authentication attempts");
    }
  }

  #bind(stanza: Element): void {
    const requested = stanza.getChild("bind", NS.BIND)?.getChildText("resource")?.trim();
    let resource: string;
    try {
      resource = requested ? prepResource(requested) : generateResource();
    } catch (error) {
      const bad = errorReply(
        stanza,
        new StanzaError("modify", "bad-request", {
          text: error instanceof JidError ? error.message : "Invalid resource",
        }),
      );
      if (bad) this.send(bad);
      return;
    }
    this.jid = parseJid(`${this.#username}@${this.#options.domain}`).withResource(resource);
    // Prosody's default: the newer session takes over the resource.
    const previous = this.#options.router.bind(this);
    previous?.closeWithError("conflict", "Replaced by a new session");
    this.#bound = true;
    this.#phase = "bound";
    // Dropped, not only cleared: an idle session should not keep the timer and its closure.
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.send(
      reply(stanza).append(el("bind", { xmlns: NS.BIND }, el("jid", {}, this.jid.full))),
    );
    this.#log("bound");
  }

  #stanza(stanza: Element): void | Promise<void> {
    if (stanza.attrs.xmlns !== NS.CLIENT) {
      return this.closeWithError("unsupported-stanza-type", `<${stanza.name}> is not a stanza`);
    }
    if (stanza.name !== "message" && stanza.name !== "presence" && stanza.name !== "iq") {
      return this.closeWithError("unsupported-stanza-type", `<${stanza.name}> is not a stanza`);
    }
    const from = stanza.attrs.from;
    if (from !== undefined && from !== this.jid.full && from !== this.jid.bare) {
      return this.closeWithError("invalid-from", "'from' does not match the bound JID");
    }
    stanza.attrs.from = this.jid.full;
    if (stanza.name === "iq") {
      const type = stanza.attrs.type;
      if (
        stanza.attrs.id === undefined || !["get", "set", "result", "error"].includes(type ?? "")
      ) {
        const bad = errorReply(
          stanza,
          new StanzaError("modify", "bad-request", { text: "iq needs an id and a valid type" }),
        );
        if (bad) this.send(bad);
        return;
      }
      if (
        stanza.getChild("session", NS.SESSION) &&
        (stanza.attrs.to ?? this.#options.domain) === this.#options.domain
      ) {
        return this.send(reply(stanza, { to: this.jid.full, from: this.#options.domain }));
      }
    }
    return this.#options.router.fromClient(stanza, this);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#phase = "closing";
    clearTimeout(this.#timer);
    if (this.#bound) {
      this.#options.router.unbind(this).catch((error) =>
        this.#log(`error ending session: ${error instanceof Error ? error.message : error}`)
      );
      this.#log("closed");
    }
    this.#options.closed(this);
  }
}

function generateResource(): string {
  return `verona-${crypto.randomUUID().slice(0, 8)}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function encodeBase64(bytes: Uint8Array): string {
  return bytes.length === 0 ? "=" : btoa(String.fromCharCode(...bytes));
}

/** Decodes base64 strictly (RFC 6120 §6.4.2); undefined if malformed. */
function decodeBase64(text: string): Uint8Array | undefined {
  if (text === "" || text === "=") return new Uint8Array();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}
