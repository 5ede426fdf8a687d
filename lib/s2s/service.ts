// Federation's routing (RFC 6120 §10.4): one outgoing stream per pair of domains (ours, theirs),
// reused while it is used and closed after it idles; stanzas wait in a bounded queue while it is
// negotiated and bounce with an error when it fails; incoming streams are accepted, and their
// dialback keys checked with the peer's authoritative server over our own stream to it.
import type { SecureContext } from "node:tls";
import type { Router } from "../router/router.ts";
import { errorReply } from "../stanza/reply.ts";
import {
  type ErrorCondition as StanzaErrorCondition,
  StanzaError,
} from "../stanza/stanza_error.ts";
import type { Transport, TransportLimits } from "../net/transport.ts";
import type { Counter } from "../metrics/metrics.ts";
import type { Element } from "../xml/element.ts";
import type { TrustStore } from "./certificates.ts";
import type { DialbackKeys } from "./dialback.ts";
import { InboundStream } from "./inbound.ts";
import { connectServer, OutboundStream } from "./outbound.ts";
import type { ResolverOptions } from "./resolve.ts";
import { type S2sStreamLimits, toWire } from "./stream.ts";

/** Settings of the service (from `[s2s]`). */
export interface S2sSettings {
  requireEncryption: boolean;
  /** Whether every peer must have a certificate good for its domain (else dialback will do). */
  secureAuth: boolean;
  /** Domains allowed to authenticate by dialback alone even when `secureAuth` ("*": all). */
  insecureDomains: readonly string[];
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  negotiationTimeoutMs: number;
  /** Stanzas, and bytes, that may wait for one remote domain while its stream is negotiated. */
  maxQueueStanzas: number;
  maxQueueBytes: number;
  /** Bytes waiting for all remote domains together. */
  maxTotalQueueBytes: number;
  /** Outgoing streams open or being set up at once. */
  maxOutgoingConnections: number;
  /** After a failed attempt, stanzas to that domain bounce at once for this long. */
  retryAfterMs: number;
  /** XEP-0288: offer and use bidirectional streams. */
  bidirectional: boolean;
  limits: S2sStreamLimits;
  transportLimits: TransportLimits;
  authenticatedRate: { perSecond: number; burst: number };
}

export interface S2sServiceOptions {
  router: Router;
  settings: S2sSettings;
  resolver: ResolverOptions;
  secureContext: SecureContext;
  certificate: { certPem: string; keyPem: string };
  trust: TrustStore;
  keys: DialbackKeys;
  log(line: string): void;
  /** Counts stanzas each way (`/metrics`); none are kept without it. */
  counters?: { stanzasIn: Counter; stanzasOut: Counter };
}

/** How long a dialback verification may take before the answer counts as "invalid". */
const VERIFY_TIMEOUT_MS = 30_000;

/** Stanzas for one remote domain from one of ours, and the stream that carries them. */
class Route {
  readonly local: string;
  readonly remote: string;
  stream: OutboundStream | null = null;
  /** XEP-0288: an incoming stream the peer made bidirectional, usable instead of our own. */
  carrier: InboundStream | null = null;
  connecting = false;
  queue: { stanza: Element; xml: string }[] = [];
  queuedBytes = 0;
  lastUsed = Date.now();
  failedUntil = 0;
  failure: { condition: StanzaErrorCondition; text: string } | null = null;
  /** db:verify requests waiting for this stream to be able to carry them, or for their answer. */
  verifies = new Map<string, { key: string; sent: boolean; done(valid: boolean): void }>();

  constructor(local: string, remote: string) {
    this.local = local;
    this.remote = remote;
  }
}

/** Federation: outgoing routes and incoming streams. */
export class S2sService {
  #options: S2sServiceOptions;
  #routes = new Map<string, Route>();
  #inbound = new Set<InboundStream>();
  /** Bytes waiting in every route's queue. */
  #queuedBytes = 0;
  #idleTimer: ReturnType<typeof setInterval>;
  #stopping = false;

  constructor(options: S2sServiceOptions) {
    this.#options = options;
    this.#idleTimer = setInterval(
      () => this.#closeIdle(),
      Math.min(30_000, options.settings.idleTimeoutMs),
    );
  }

  /** Whether `domain` is served here: the server's own or one of its components'. */
  isLocal(domain: string): boolean {
    const router = this.#options.router;
    return domain === router.domain || router.components().some((c) => c.domain === domain);
  }

  #allowsDialbackOnly = (domain: string): boolean => {
    const { secureAuth, insecureDomains } = this.#options.settings;
    return !secureAuth || insecureDomains.includes("*") || insecureDomains.includes(domain);
  };

  /** Open streams, for the status line and metrics. */
  get counts(): { inbound: number; outbound: number; queued: number } {
    let outbound = 0;
    let queued = 0;
    for (const route of this.#routes.values()) {
      if (route.stream !== null) outbound++;
      queued += route.queue.length;
    }
    return { inbound: this.#inbound.size, outbound, queued };
  }

  /** The remote domains with an authenticated incoming or outgoing stream. */
  connectedDomains(): { inbound: string[]; outbound: string[] } {
    return {
      inbound: [...new Set([...this.#inbound].flatMap((stream) => stream.remoteDomains))],
      outbound: [...this.#routes.values()].filter((route) => route.stream?.isReady).map((route) =>
        route.remote
      ),
    };
  }

  /** Hands a stanza from another server to the router. */
  #deliver = (stanza: Element): void => {
    this.#options.counters?.stanzasIn.inc();
    const routed = this.#options.router.route(stanza);
    if (routed instanceof Promise) routed.catch(() => {});
  };

  /** XEP-0288: `stream` may carry stanzas from `local` to `remote`; what waits goes now. */
  #bidirectional = (stream: InboundStream, local: string, remote: string): void => {
    if (!this.isLocal(local)) return;
    const route = this.#route(local, remote);
    route.carrier = stream;
    route.failure = null;
    for (const { xml } of this.#takeQueue(route)) stream.write(xml);
  };

  /** Sends a stanza to another server; called by the router for every non-local domain. */
  send(stanza: Element): void {
    const from = domainOf(stanza.attrs.from);
    const to = domainOf(stanza.attrs.to);
    if (to === undefined) return;
    if (from === undefined || !this.isLocal(from)) {
      // Only what comes from here goes out: never relay for others.
      this.#options.log(`s2s: not sending <${stanza.name}/> from ${stanza.attrs.from ?? "nobody"}`);
      return;
    }
    const route = this.#route(from, to);
    route.lastUsed = Date.now();
    this.#options.counters?.stanzasOut.inc();
    if (route.stream?.isReady) return route.stream.write(toWire(stanza));
    if (route.carrier !== null && !route.carrier.isClosing) {
      return route.carrier.write(toWire(stanza));
    }
    if (route.failure !== null && Date.now() < route.failedUntil) {
      return this.#bounce(stanza, route.failure.condition, route.failure.text);
    }
    const xml = toWire(stanza);
    const { maxQueueStanzas, maxQueueBytes, maxTotalQueueBytes } = this.#options.settings;
    if (route.queue.length >= maxQueueStanzas || route.queuedBytes + xml.length > maxQueueBytes) {
      return this.#refuse(route, stanza, `Too much waits for ${to}`);
    }
    if (this.#queuedBytes + xml.length > maxTotalQueueBytes) {
      return this.#refuse(route, stanza, "Too much waits for other servers");
    }
    if (route.stream === null && !route.connecting && !this.#mayConnect()) {
      this.#options.log(`s2s: not contacting ${to}: max_outgoing_connections reached`);
      return this.#refuse(route, stanza, "Too many servers are being contacted");
    }
    route.queue.push({ stanza, xml });
    route.queuedBytes += xml.length;
    this.#queuedBytes += xml.length;
    this.#connect(route);
  }

  /**
   * XEP-0220 §2.3: asks `originating`'s authoritative server (over our stream from `receiving`
   * to it) whether `key` is the one it made for our stream `streamId`.
   */
  verifyDialback(
    receiving: string,
    originating: string,
    streamId: string,
    key: string,
  ): Promise<boolean> {
    const route = this.#route(receiving, originating);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => finish(false), VERIFY_TIMEOUT_MS);
      const finish = (valid: boolean) => {
        clearTimeout(timer);
        route.verifies.delete(streamId);
        resolve(valid);
      };
      route.verifies.get(streamId)?.done(false);
      route.verifies.set(streamId, { key, sent: false, done: finish });
      if (route.stream?.canVerify) this.#sendVerifies(route);
      else this.#connect(route);
    });
  }

  /** Takes over an incoming connection. */
  accept(transport: Transport): void {
    if (this.#stopping) return transport.destroy();
    const { settings } = this.#options;
    const stream = new InboundStream(transport, {
      isLocal: (domain) => this.isLocal(domain),
      secureContext: this.#options.secureContext,
      requireEncryption: settings.requireEncryption,
      trust: this.#options.trust,
      allowsDialbackOnly: this.#allowsDialbackOnly,
      keys: this.#options.keys,
      verifyDialback: (receiving, originating, id, key) =>
        this.verifyDialback(receiving, originating, id, key),
      route: this.#deliver,
      bidirectional: settings.bidirectional ? this.#bidirectional : undefined,
      limits: settings.limits,
      authenticatedRate: settings.authenticatedRate,
      negotiationTimeoutMs: settings.negotiationTimeoutMs,
      idleTimeoutMs: settings.idleTimeoutMs,
      log: this.#options.log,
      ended: (ended) => {
        this.#inbound.delete(ended);
        for (const route of this.#routes.values()) {
          if (route.carrier === ended) route.carrier = null;
        }
      },
    });
    this.#inbound.add(stream);
  }

  #route(local: string, remote: string): Route {
    const key = `${local} ${remote}`;
    let route = this.#routes.get(key);
    if (route === undefined) this.#routes.set(key, route = new Route(local, remote));
    return route;
  }

  /** Whether one more outgoing stream may be set up (`max_outgoing_connections`). */
  #mayConnect(): boolean {
    let outgoing = 0;
    for (const route of this.#routes.values()) {
      if (route.stream !== null || route.connecting) outgoing++;
    }
    return outgoing < this.#options.settings.maxOutgoingConnections;
  }

  /** Bounces a stanza past a bound; a route made just for it keeps no entry. */
  #refuse(route: Route, stanza: Element, text: string): void {
    const unused = route.stream === null && !route.connecting && route.carrier === null &&
      route.queue.length === 0 && route.verifies.size === 0 && route.failure === null;
    if (unused) this.#routes.delete(`${route.local} ${route.remote}`);
    this.#bounce(stanza, "resource-constraint", text);
  }

  /** Empties a route's queue, and returns what was in it. */
  #takeQueue(route: Route): { stanza: Element; xml: string }[] {
    const queued = route.queue;
    this.#queuedBytes -= route.queuedBytes;
    route.queue = [];
    route.queuedBytes = 0;
    return queued;
  }

  #connect(route: Route): void {
    if (route.stream !== null || route.connecting || this.#stopping) return;
    route.connecting = true;
    const { settings } = this.#options;
    const options = {
      resolver: this.#options.resolver,
      connectTimeoutMs: settings.connectTimeoutMs,
      certificate: this.#options.certificate,
      trust: this.#options.trust,
      requireEncryption: settings.requireEncryption,
      allowsDialbackOnly: this.#allowsDialbackOnly,
      keys: this.#options.keys,
      limits: settings.limits,
      transportLimits: settings.transportLimits,
      log: this.#options.log,
    };
    // The whole negotiation must finish in time, however the peer stalls.
    const deadline = setTimeout(() => {
      if (route.stream?.isReady) return;
      route.stream?.fail("remote-server-timeout", "negotiation took too long");
    }, settings.negotiationTimeoutMs);
    connectServer(route.remote, options).then(({ transport, target, problems }) => {
      route.connecting = false;
      if (this.#stopping) {
        clearTimeout(deadline);
        return transport.destroy();
      }
      this.#options.log(
        `s2s ${route.local} → ${route.remote}: connected to ${target.host}:${target.port}` +
          (target.directTls ? " over direct TLS (XEP-0368)" : "") +
          (problems.length > 0 ? ` (before that: ${problems.join("; ")})` : ""),
      );
      route.stream = new OutboundStream(transport, route.local, route.remote, options, {
        verifiable: () => this.#sendVerifies(route),
        ready: () => {
          clearTimeout(deadline);
          route.failure = null;
          for (const { xml } of this.#takeQueue(route)) route.stream!.write(xml);
        },
        verified: (id, valid) => route.verifies.get(id)?.done(valid),
        stanza: settings.bidirectional ? this.#deliver : undefined,
        ended: (stream, problem) => {
          clearTimeout(deadline);
          if (route.stream === stream) route.stream = null;
          this.#failed(route, problem);
        },
      });
    }, (error) => {
      clearTimeout(deadline);
      route.connecting = false;
      const text = error instanceof Error ? error.message : String(error);
      this.#options.log(`s2s ${route.local} → ${route.remote}: ${text}`);
      this.#failed(route, { condition: "remote-server-not-found", text });
    });
  }

  #sendVerifies(route: Route): void {
    for (const [id, verify] of route.verifies) {
      if (verify.sent) continue;
      verify.sent = true;
      route.stream!.verify(id, verify.key);
    }
  }

  /** The route's stream is gone: what waited bounces, and verifications fail. */
  #failed(route: Route, problem?: { condition: string; text: string }): void {
    for (const verify of [...route.verifies.values()]) verify.done(false);
    const queued = this.#takeQueue(route);
    if (problem !== undefined && queued.length > 0) {
      const condition = (problem.condition === "remote-server-timeout"
        ? "remote-server-timeout"
        : "remote-server-not-found") as StanzaErrorCondition;
      route.failure = { condition, text: `${route.remote}: ${problem.text}` };
      route.failedUntil = Date.now() + this.#options.settings.retryAfterMs;
      for (const { stanza } of queued) {
        this.#bounce(stanza, condition, route.failure.text);
      }
    }
    if (route.stream === null && route.verifies.size === 0 && route.queue.length === 0) {
      if (route.failure === null) this.#routes.delete(`${route.local} ${route.remote}`);
    }
  }

  #bounce(stanza: Element, condition: StanzaErrorCondition, text: string): void {
    const bounce = errorReply(
      stanza,
      new StanzaError(condition === "resource-constraint" ? "wait" : "cancel", condition, { text }),
    );
    if (!bounce || bounce.attrs.to === undefined) return;
    const routed = this.#options.router.route(bounce);
    if (routed instanceof Promise) routed.catch(() => {});
  }

  #closeIdle(): void {
    const now = Date.now();
    for (const [key, route] of this.#routes) {
      if (now - route.lastUsed < this.#options.settings.idleTimeoutMs) continue;
      if (route.queue.length > 0 || route.verifies.size > 0) continue;
      if (route.stream !== null) {
        route.stream.log("idle; closing");
        route.stream.close();
      }
      if (!route.connecting) this.#routes.delete(key);
    }
  }

  /** Closes every stream with `<system-shutdown/>`. */
  stop(): void {
    this.#stopping = true;
    clearInterval(this.#idleTimer);
    for (const route of this.#routes.values()) {
      route.stream?.closeWithError("system-shutdown", "Server is stopping");
    }
    for (const stream of this.#inbound) {
      stream.closeWithError("system-shutdown", "Server is stopping");
    }
  }
}

/** The domain of a JID the router has prepared (a localpart has no "/", RFC 7622 §3.3.1). */
function domainOf(jid: string | undefined): string | undefined {
  if (jid === undefined) return undefined;
  const slash = jid.indexOf("/");
  const bare = slash === -1 ? jid : jid.slice(0, slash);
  return bare.slice(bare.indexOf("@") + 1).toLowerCase();
}
