// A client-to-server stream (RFC 6120 §4–§7): header, features, STARTTLS,
// SASL, resource binding and the legacy session iq, then stanzas to the router.
// Stream Management (XEP-0198 §3–§7) and Client State Indication (XEP-0352 §4, §5) sit between
// the session and the wire: `send()` goes through the CSI buffer, then the SM counter and queue.
//
// With SM resumption the session outlives its connection: the object bound in the router (the
// session) and the object reading a socket (the connection) are then two streams. A stream that
// resumes a hibernating session becomes the session's carrier and hands it everything it reads;
// the session writes to its carrier's transport. Without resumption both are the same object.
import type { SecureContext } from "node:tls";
import { type Jid, JidError, parseJid, prepResource } from "../jid/jid.ts";
import type { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import type { SaslServerMechanism } from "../sasl/mechanism.ts";
import { NS } from "../stanza/ns.ts";
import { errorReply, reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import type { KeyedBuckets } from "../net/token_bucket.ts";
import type { ClientTransport } from "../net/transport.ts";
import type { Counter, Metrics } from "../metrics/metrics.ts";
import { el, type Element } from "../xml/element.ts";
import { type ParserErrorCondition, StreamParser } from "../xml/stream_parser.ts";
import { type StreamErrorCondition, streamErrorXml } from "./stream_error.ts";
import type { PreAuthRegistration } from "./register.ts";
import { ClientStateBuffer } from "./client_state.ts";
import {
  type AckResult,
  DEFAULT_MAX_UNACKED_BYTES,
  DEFAULT_MAX_UNACKED_STANZAS,
  DEFAULT_RESUME_TIMEOUT_S,
  type EndedResumptions,
  failed,
  newSmId,
  type Outbound,
  parseBoolean,
  parseH,
  REQUEST_ACK_IDLE_MS,
  StreamManagement,
} from "./stream_management.ts";

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
  /** XEP-0198: longest hibernation of a resumable session, seconds (default 600; 0: no resumption). */
  smResumeTimeoutS?: number;
  /** XEP-0198: unacknowledged stanzas (and their bytes) a session may hold before it ends. */
  smMaxUnackedStanzas?: number;
  smMaxUnackedBytes?: number;
  /** XEP-0352: stanzas held back for an inactive client before they are flushed anyway. */
  csiMaxHeld?: number;
  /**
   * The transport's output bound, when known: the SM queue is kept to half of it, so that what a
   * resumption sends again always fits into a fresh connection's output.
   */
  maxSendQueueBytes?: number;
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
  /**
   * Called after each write to the client, so that the server's check of every send queue
   * against the total budget looks only at streams that may have one.
   */
  wrote?(stream: C2sStream): void;
  /** Failed authentications by remote address, shared by every stream. */
  authFailuresByAddress: KeyedBuckets;
  /** Whether so many connections are open that slow logins should make room. */
  underPressure(): boolean;
  /** XEP-0198 §5: what ended resumable sessions had handled, shared by every stream. */
  endedResumptions: EndedResumptions;
  /** Counters shared by every stream (`/metrics`); none are kept without them. */
  counters?: C2sCounters;
}

/** What every c2s stream counts, by label `kind` (message, presence, iq, other). */
export interface C2sCounters {
  stanzasIn: Counter;
  stanzasOut: Counter;
  /** Failed SASL authentications, by label `mechanism`. */
  authFailures: Counter;
}

/** The counters of {@linkcode C2sCounters} in `metrics`. */
export function c2sCounters(metrics: Metrics): C2sCounters {
  return {
    stanzasIn: metrics.counter("verona_c2s_stanzas_in", "Stanzas received from clients", [
      "kind",
    ]),
    stanzasOut: metrics.counter("verona_c2s_stanzas_out", "Stanzas sent to clients", ["kind"]),
    authFailures: metrics.counter(
      "verona_c2s_auth_failures",
      "Failed SASL authentications",
      ["mechanism"],
    ),
  };
}

// One label array per kind, so that counting a stanza allocates nothing.
const KIND: Record<string, readonly string[]> = {
  message: ["message"],
  presence: ["presence"],
  iq: ["iq"],
  other: ["other"],
};

/** The kind label of a stanza, serialized or not. */
function kindOf(item: Element | string): readonly string[] {
  if (typeof item !== "string") return KIND[item.name] ?? KIND.other;
  if (item.startsWith("<message")) return KIND.message;
  if (item.startsWith("<presence")) return KIND.presence;
  if (item.startsWith("<iq")) return KIND.iq;
  return KIND.other;
}

type Phase = "connected" | "authenticated" | "bound" | "closing";

let nextStreamNumber = 1;

/** One client connection, from TCP accept to close. */
export class C2sStream implements BoundSession {
  readonly id: string;
  jid!: Jid;
  presence: Element | null = null;
  priority = 0;
  directedPresence?: Set<string>;

  #options: C2sOptions;
  #transport: ClientTransport;
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
  /** XEP-0198 state, from `<enable/>` on; null for sessions that never enable it. */
  #sm: StreamManagement | null = null;
  /** XEP-0352 held-back stanzas while the client is inactive; null while active. */
  #csi: ClientStateBuffer | null = null;
  /** The connection that carries this session (itself, unless it was resumed elsewhere). */
  #carrier: C2sStream = this;
  /** The session this connection carries (itself, unless it resumed another). */
  #session: C2sStream = this;
  /** This connection's session was resumed on another connection: its input is ignored. */
  #superseded = false;
  /** The connection is gone and the session waits to be resumed (XEP-0198 §5, §7). */
  #hibernating = false;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  /** Input arrived since the server's last idle sweep (see {@linkcode releaseIdle}). */
  #inputSinceSweep = false;

  constructor(transport: ClientTransport, options: C2sOptions) {
    this.id = `c2s${(nextStreamNumber++).toString(36)}`;
    this.#transport = transport;
    this.#options = options;
    this.#parser = new StreamParser({
      streamOpen: (name, ns, attrs) => this.#streamOpened(name, ns, attrs),
      stanza: (stanza) => this.#session.#received(stanza),
      streamClose: () => this.#session.close(),
      error: (condition, text) => this.#session.#parseError(condition, text),
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
      data: (bytes) => {
        this.#inputSinceSweep = true;
        if (!this.#superseded) this.#parser.write(bytes);
      },
      closed: () => this.#connectionClosed(),
      overflow: (queued) => this.#session.#overflow(this, queued),
    });
  }

  /** Bytes this connection has written that the client has not taken yet. */
  get queuedBytes(): number {
    return this.#transport.queuedBytes;
  }

  /**
   * Called by the server's periodic sweep: a connection that has sent nothing since the last
   * sweep frees its XML parser (a new one is made when input comes), the largest part of what
   * an idle session holds.
   */
  releaseIdle(): void {
    if (this.#inputSinceSweep) this.#inputSinceSweep = false;
    else this.#parser.release();
  }

  /**
   * The server holds too much for clients that do not read: this connection goes as if its own
   * queue had overflowed (a resumable session only loses its connection).
   */
  shed(queued: number): void {
    this.#session.#overflow(this, queued);
  }

  /** Serializes and queues a stanza for the client. */
  send(stanza: Element): void {
    this.#deliver(stanza);
  }

  /** Queues an already serialized stanza for the client. */
  sendXml(xml: string): void {
    this.#deliver(xml);
  }

  /** Sends a stream error and closes (RFC 6120 §4.9.1.1). */
  closeWithError(condition: StreamErrorCondition | string, text?: string): void {
    this.#closeWithErrorXml(
      streamErrorXml(condition as StreamErrorCondition, text),
      `${condition}${text ? `: ${text}` : ""}`,
    );
  }

  #closeWithErrorXml(xml: string, what: string): void {
    if (this.#phase === "closing") return;
    this.#log(`stream error ${what}`);
    if (!this.#hibernating) {
      this.#carrier.#sendHeaderIfNeeded();
      this.#carrier.#write(xml);
    }
    this.close();
  }

  /** Ends the stream cleanly (our `</stream:stream>`, then the socket). */
  close(): void {
    if (this.#phase === "closing") return;
    this.#phase = "closing";
    if (this.#hibernating) return this.#end(); // no connection to close
    this.#carrier.#sendHeaderIfNeeded();
    // XEP-0198 §4: a last ack tells the client which of its stanzas were handled.
    if (this.#sm !== null) this.#carrier.#write(this.#sm.answer().toString());
    this.#carrier.#write("</stream:stream>");
    this.#out.close();
  }

  /** Writes to this connection's client; the server then watches its send queue. */
  #write(text: string): void {
    this.#transport.write(text);
    this.#options.wrote?.(this);
  }

  /** The transport this session writes to: its carrier's. */
  get #out(): ClientTransport {
    return this.#carrier.#transport;
  }

  /** What goes to the client passes the CSI buffer (XEP-0352), then SM (XEP-0198). */
  #deliver(item: Outbound): void {
    if (this.#ended) return;
    if (this.#csi === null) return this.#emit(item);
    for (const out of this.#csi.offer(item)) this.#emit(out);
  }

  #emit(item: Outbound): void {
    const xml = typeof item === "string" ? item : item.toString(NS.CLIENT);
    this.#options.counters?.stanzasOut.inc(kindOf(item));
    const sm = this.#sm;
    if (sm === null) {
      if (!this.#hibernating) this.#carrier.#write(xml);
      return;
    }
    if (!sm.countSent(item, xml.length)) {
      // Past the bounds (after the current delivery loop has finished): a connected resumable
      // session loses its connection and may still be resumed with what it holds; a hibernating
      // one, or one that cannot be resumed, ends, and what it holds is handled as undeliverable.
      queueMicrotask(() => {
        if (this.#phase !== "bound" || this.#ended) return;
        if (this.#hibernating) {
          this.#log("resumption queue full");
          this.#phase = "closing";
          this.#end();
        } else if (sm.resumable) {
          this.#log("too many unacknowledged stanzas; connection dropped");
          this.#out.destroy();
        } else this.closeWithError("resource-constraint", "Too many unacknowledged stanzas");
      });
    }
    if (this.#hibernating) {
      const hooks = this.#options.router.hooks;
      if (hooks.has("held-for-resumption")) {
        hooks.notify("held-for-resumption", { session: this, stanzas: [item] });
      }
      return;
    }
    this.#carrier.#write(xml);
    if (sm.shouldRequest) this.#carrier.#write(sm.request().toString());
    else this.#scheduleAckRequest();
  }

  /** XEP-0198 §4: ask for an ack after a short idle time when stanzas wait for one. */
  #scheduleAckRequest(): void {
    if (this.#ackTimer !== undefined || this.#sm === null || this.#sm.awaitingAck) return;
    this.#ackTimer = setTimeout(() => {
      this.#ackTimer = undefined;
      const sm = this.#sm;
      if (sm === null || this.#hibernating || this.#phase !== "bound") return;
      if (sm.unackedCount > 0 && !sm.awaitingAck) this.#carrier.#write(sm.request().toString());
    }, REQUEST_ACK_IDLE_MS);
  }

  /** This connection's transport is gone. */
  #connectionClosed(): void {
    const session = this.#session;
    if (session !== this) {
      // A connection that resumed a session: the session loses it, unless it moved on again.
      if (session.#carrier === this) session.#lost();
      return;
    }
    if (this.#ended || this.#carrier !== this) return; // resumed elsewhere meanwhile
    this.#lost();
  }

  /** The session's connection is gone: it hibernates when it may be resumed, else it ends. */
  #lost(): void {
    if (this.#ended || this.#hibernating) return;
    if (this.#sm?.resumable && this.#phase === "bound") return this.#hibernate();
    this.#end();
  }

  #overflow(connection: C2sStream, queued: number): void {
    if (this.#carrier !== connection) return;
    if (this.#sm?.resumable && this.#phase === "bound") {
      // Everything unread is in the SM queue: drop the connection and let the client resume.
      this.#log(`${queued} bytes wait for a client that does not read; connection dropped`);
      this.#out.destroy();
      return;
    }
    this.closeWithError(
      "policy-violation",
      `${queued} bytes wait for a client that does not read`,
    );
  }

  /** XEP-0198 §5, §7: the session stays bound and queues stanzas until resumed or expired. */
  #hibernate(): void {
    const sm = this.#sm!;
    this.#hibernating = true;
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    sm.awaitingAck = false;
    // XEP-0352 §5.2: the CSI state does not survive; what it held waits with the rest.
    const held = this.#csi?.flush() ?? [];
    this.#csi = null;
    const hooks = this.#options.router.hooks;
    if (sm.unackedCount > 0 && hooks.has("held-for-resumption")) {
      hooks.notify("held-for-resumption", { session: this, stanzas: sm.unacked() });
    }
    for (const item of held) this.#emit(item);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#log("resumption timed out");
      this.#phase = "closing";
      this.#end();
    }, sm.resumeTimeoutS * 1000);
    this.#log(`hibernating for ${sm.resumeTimeoutS} s with ${sm.unackedCount} unacked stanza(s)`);
  }

  #log(line: string): void {
    this.#options.log(
      `${this.id} ${this.#bound ? this.jid.full : this.#out.remoteAddress} ${line}`,
    );
  }

  #sendHeaderIfNeeded(): void {
    if (this.#headerSent) return;
    this.#headerSent = true;
    this.#write(
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
    this.#write(this.#features().toString());
  }

  #features(): Element {
    const features = el("stream:features");
    const encrypted = this.#transport.encrypted;
    if (this.#phase === "connected") {
      if (!encrypted && this.#transport.canStartTls) {
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
      features.append(el("sm", { xmlns: NS.SM })); // XEP-0198 §2
      features.append(el("csi", { xmlns: NS.CSI })); // XEP-0352 §4.1
      // Features of the modules, e.g. roster versioning and pre-approval (RFC 6121 §2.6, §3.4).
      for (const feature of this.#options.router.streamFeatures) features.append(feature);
    }
    return features;
  }

  /** Stanzas are handled one at a time, in order, even when a handler is async. */
  #received(stanza: Element): void {
    if (this.#session !== this) return this.#session.#received(stanza);
    this.#options.counters?.stanzasIn.inc(kindOf(stanza));
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
    // Queued on this connection before it resumed a session: the session handles it.
    if (this.#session !== this) return this.#session.#received(stanza);
    if (this.#phase === "closing") return;
    const ns = stanza.attrs.xmlns;
    if (this.#phase !== "connected") {
      if (ns === NS.SM) return this.#smElement(stanza);
      if (ns === NS.CSI) return this.#csiElement(stanza);
    }
    if (this.#phase === "bound") return this.#stanza(stanza);
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
    if (!this.#transport.canStartTls) {
      return this.closeWithError("policy-violation", "STARTTLS is not offered on this transport");
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
    const mechanism = this.#sasl!.name;
    const step = await this.#sasl!.step(data);
    if (step.kind === "challenge") {
      this.#write(
        el("challenge", { xmlns: NS.SASL }, encodeBase64(step.data)).toString(),
      );
      return;
    }
    this.#sasl = null;
    if (step.kind === "failure") {
      this.#log(`SASL failure: ${step.condition}`);
      this.#options.counters?.authFailures.inc([mechanism]);
      this.#options.authFailuresByAddress.tryTake(this.#transport.remoteAddress);
      await delay(this.#options.limits.authFailureDelayMs);
      return this.#saslFailure(step.condition, step.text);
    }
    this.#username = step.username;
    this.#phase = "authenticated";
    this.#expectNewStream();
    const { c2sRateBytes, c2sBurstBytes } = this.#options.limits;
    this.#transport.setInputRate({ perSecond: c2sRateBytes, burst: c2sBurstBytes });
    this.#write(
      el("success", { xmlns: NS.SASL }, step.data ? encodeBase64(step.data) : undefined).toString(),
    );
    this.#log(`authenticated as ${step.username}`);
  }

  #saslFailure(condition: string, text?: string): void {
    this.#write(
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
    this.#sm?.countHandled(); // XEP-0198 §4: the router takes responsibility from here
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
    this.#hibernating = false;
    clearTimeout(this.#timer);
    clearTimeout(this.#ackTimer);
    this.#csi = null;
    if (this.#bound) {
      this.#options.router.unbind(this).catch((error) =>
        this.#log(`error ending session: ${error instanceof Error ? error.message : error}`)
      );
      this.#log("closed");
      // Unbound now (synchronously), so what the client never acknowledged goes elsewhere.
      if (this.#sm?.id !== undefined) {
        this.#options.endedResumptions.record(this.jid.bare, this.#sm.id, this.#sm.handled);
      }
      if (this.#sm !== null) this.#undeliverable(this.#sm.takeUnacked());
    }
    this.#sm = null;
    this.#options.closed(this);
  }

  /**
   * XEP-0198 §4: unacknowledged stanzas of an ended session are treated as stanzas to an
   * unavailable resource (RFC 6121 §8.5.3.2): chat and normal messages are routed again, to the
   * account's other resources or its offline storage; iq requests get an error; presence,
   * groupchat, headlines, errors and carbons (whose original went elsewhere) are dropped, as
   * is serialized fan-out (room presence and groupchat).
   */
  #undeliverable(items: Outbound[]): void {
    const router = this.#options.router;
    const routed = (result: void | Promise<void>) => {
      if (result instanceof Promise) {
        result.catch((error) =>
          this.#log(`error re-routing: ${error instanceof Error ? error.message : error}`)
        );
      }
    };
    let count = 0;
    for (const item of items) {
      if (typeof item === "string") continue;
      const type = item.attrs.type;
      if (item.name === "message") {
        if (type !== undefined && type !== "chat" && type !== "normal") continue;
        if (item.getChild("sent", NS.CARBONS) || item.getChild("received", NS.CARBONS)) continue;
        routed(router.route(item.clone()));
        count++;
      } else if (item.name === "iq" && (type === "get" || type === "set")) {
        const bounce = errorReply(item, new StanzaError("wait", "recipient-unavailable"));
        if (bounce && bounce.attrs.to !== undefined) routed(router.route(bounce));
      }
    }
    if (count > 0) this.#log(`${count} unacknowledged message(s) routed again`);
  }

  /** XEP-0198 nonzas: enable, r, a (after bind), resume (before bind). */
  #smElement(stanza: Element): void {
    switch (stanza.name) {
      case "enable":
        return this.#enable(stanza);
      case "resume":
        return this.#resume(stanza);
      case "r":
        if (this.#sm !== null) this.#carrier.#write(this.#sm.answer().toString());
        return;
      case "a":
        return this.#ack(stanza);
      default:
        return this.closeWithError("unsupported-stanza-type", `<${stanza.name}> is not known`);
    }
  }

  /** XEP-0198 §3: only once, only after bind; `resume` asks for §5. */
  #enable(stanza: Element): void {
    if (this.#phase !== "bound" || this.#sm !== null) {
      this.#carrier.#write(failed("unexpected-request").toString());
      return;
    }
    const limits = this.#options.limits;
    const serverMax = limits.smResumeTimeoutS ?? DEFAULT_RESUME_TIMEOUT_S;
    const bounds = {
      maxUnackedStanzas: limits.smMaxUnackedStanzas ?? DEFAULT_MAX_UNACKED_STANZAS,
      maxUnackedBytes: Math.min(
        limits.smMaxUnackedBytes ?? DEFAULT_MAX_UNACKED_BYTES,
        Math.floor((limits.maxSendQueueBytes ?? Infinity) / 2),
      ),
    };
    const asked = parseH(stanza.attrs.max);
    if (parseBoolean(stanza.attrs.resume) && serverMax > 0) {
      const timeoutS = asked !== undefined && asked > 0 ? Math.min(asked, serverMax) : serverMax;
      this.#sm = new StreamManagement({ resume: true, id: newSmId(), timeoutS }, bounds);
      this.#carrier.#write(
        el("enabled", { xmlns: NS.SM, id: this.#sm.id, resume: "true", max: timeoutS }).toString(),
      );
    } else {
      this.#sm = new StreamManagement({ resume: false }, bounds);
      this.#carrier.#write(el("enabled", { xmlns: NS.SM }).toString());
    }
    this.#log(`stream management enabled${this.#sm.resumable ? ", resumable" : ""}`);
  }

  /** XEP-0198 §4: the client's ack; §6: one beyond what was sent ends the stream. */
  #ack(stanza: Element): void {
    const sm = this.#sm;
    if (sm === null) return;
    const h = parseH(stanza.attrs.h);
    if (h === undefined) return this.closeWithError("invalid-xml", "<a/> needs a valid 'h'");
    sm.awaitingAck = false;
    const result = sm.ack(h);
    if (!result.ok) return this.#handledTooHigh(result);
    if (sm.unackedCount > 0) this.#scheduleAckRequest();
  }

  #handledTooHigh(result: AckResult & { ok: false }): void {
    const text = `You acknowledged ${result.h} stanzas, but I only sent you ${result.sent} so far`;
    this.#closeWithErrorXml(
      el(
        "stream:error",
        {},
        el("undefined-condition", { xmlns: NS.STREAM_ERRORS }),
        el("handled-count-too-high", { xmlns: NS.SM, h: result.h, "send-count": result.sent }),
        el("text", { xmlns: NS.STREAM_ERRORS }, text),
      ).toString(),
      `undefined-condition: ${text}`,
    );
  }

  /**
   * XEP-0198 §5: takes over a session of the same account by its SM-ID. Its unacknowledged
   * stanzas are sent again after `<resumed/>`; an old connection still open gets `conflict`.
   */
  #resume(stanza: Element): void {
    if (this.#phase !== "authenticated") {
      this.#carrier.#write(failed("unexpected-request").toString());
      return;
    }
    if ((this.#options.limits.smResumeTimeoutS ?? DEFAULT_RESUME_TIMEOUT_S) <= 0) {
      this.#carrier.#write(failed("feature-not-implemented").toString());
      return;
    }
    const previd = stanza.attrs.previd;
    const h = parseH(stanza.attrs.h);
    if (previd === undefined || h === undefined) {
      this.#carrier.#write(failed("bad-request").toString());
      return;
    }
    const bare = `${this.#username}@${this.#options.domain}`;
    const old = this.#options.router.sessionsOf(bare).find((session) =>
      session instanceof C2sStream && session.#sm?.id === previd && session.#phase === "bound"
    ) as C2sStream | undefined;
    if (old === undefined) {
      this.#log(`no session to resume`);
      const handled = this.#options.endedResumptions.take(bare, previd);
      this.#carrier.#write(failed("item-not-found", handled).toString());
      return; // §5: the client may bind instead
    }
    const sm = old.#sm!;
    const result = sm.ack(h);
    if (!result.ok) {
      old.closeWithError("undefined-condition", "A resumption acknowledged more than was sent");
      return this.#handledTooHigh(result);
    }
    const previous = old.#carrier;
    old.#carrier = this;
    this.#session = old;
    this.#phase = "bound";
    // This connection now only carries `old`, which is the stream the server keeps track of.
    this.#ended = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#options.closed(this);
    clearTimeout(old.#timer);
    old.#timer = undefined;
    old.#hibernating = false;
    if (!previous.#transport.isClosed) {
      previous.#superseded = true;
      previous.#transport.write(
        streamErrorXml("conflict", "The session was resumed on another connection") +
          "</stream:stream>",
      );
      previous.#transport.close();
    }
    this.#write(el("resumed", { xmlns: NS.SM, previd, h: sm.handled }).toString());
    for (const item of sm.unacked()) {
      this.#write(typeof item === "string" ? item : item.toString(NS.CLIENT));
    }
    // XEP-0352 §5.2: a resumed stream is active; what was held goes out after the rest.
    const held = old.#csi?.flush() ?? [];
    old.#csi = null;
    for (const item of held) old.#emit(item);
    sm.awaitingAck = false;
    if (sm.unackedCount > 0) this.#write(sm.request().toString());
    old.#log(`resumed on ${this.id} with ${sm.unackedCount} stanza(s) sent again`);
  }

  /** XEP-0352 §4.2: `<inactive/>` holds back what can wait; `<active/>` flushes it in order. */
  #csiElement(stanza: Element): void {
    if (this.#phase !== "bound") return;
    if (stanza.name === "inactive") {
      this.#csi ??= new ClientStateBuffer({
        max: this.#options.limits.csiMaxHeld,
        delayFrom: this.jid.bare,
      });
    } else if (stanza.name === "active") {
      const held = this.#csi?.flush() ?? [];
      this.#csi = null;
      for (const item of held) this.#emit(item);
    }
  }
}

function generateResource(): string {
  return `verona-${crypto.randomUUID().slice(0, 8)}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function encodeBase64(bytes: Uint8Array): string {
  return bytes.length === 0 ? "=" : bytes.toBase64();
}

/** Decodes base64 strictly (RFC 6120 §6.4.2); undefined if malformed. */
function decodeBase64(text: string): Uint8Array | undefined {
  if (text === "" || text === "=") return new Uint8Array();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  try {
    return Uint8Array.fromBase64(text);
  } catch {
    return undefined;
  }
}
