// Stanza routing by JID (RFC 6120 §10, RFC 6121 §8): sessions, the server itself, components.
import { type Jid, JidError, parseJid } from "../jid/jid.ts";
import { errorReply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el, type Element } from "../xml/element.ts";
import type { Component } from "./component.ts";
import { RouterHooks } from "./hooks.ts";
import { IqRegistry, type IqTarget } from "./iq.ts";
import type { BoundSession } from "./session.ts";

/** Where stanzas for other servers go (lib/s2s). */
export interface RemoteRoute {
  send(stanza: Element): void;
}

export interface RouterOptions {
  /** The server's own domain. */
  domain: string;
  /** Whether a local account exists (for the right error on stanzas to unknown users). */
  accountExists(local: string): boolean;
  /** Log sink. */
  log(line: string): void;
}

/** Delivers stanzas between local sessions, server-side handlers and components. */
export class Router {
  readonly domain: string;
  readonly iq = new IqRegistry();
  /** Where the instant-messaging modules plug in (presence, subscriptions, offline, carbons...). */
  readonly hooks: RouterHooks;
  /** Stream features offered with resource binding (e.g. roster versioning, pre-approval). */
  readonly streamFeatures: Element[] = [];
  /** Extra disco#info features of the server (e.g. carbons, blocking) besides its iq namespaces. */
  readonly serverFeatures = new Set<string>();
  /** XEP-0128 extended-info forms for the server's disco#info (e.g. contact addresses). */
  readonly serverInfoForms: (() => Element)[] = [];
  #boundListeners: ((session: BoundSession) => void)[] = [];
  #endedListeners: ((session: BoundSession) => void)[] = [];
  #sessions = new Map<string, Map<string, BoundSession>>();
  /** Sessions by full JID string, for delivery without parsing the address again. */
  #byFull = new Map<string, BoundSession>();
  #components = new Map<string, Component>();
  #options: RouterOptions;
  #stopping = false;
  #remote: RemoteRoute | null = null;

  constructor(options: RouterOptions) {
    this.domain = options.domain;
    this.#options = options;
    this.hooks = new RouterHooks(options.log);
  }

  /**
   * The server is stopping: sessions that end now tell nobody, since every peer is going too
   * (a full room would otherwise get a quadratic storm of unavailable presences).
   */
  stop(): void {
    this.#stopping = true;
  }

  /** Attaches federation: stanzas for every other domain go there (RFC 6120 §10.4). */
  setRemote(remote: RemoteRoute | null): void {
    this.#remote = remote;
  }

  /**
   * Whether a stanza to this JID's domain can go anywhere: here, a component, or (with
   * federation) another server. Modules use it to skip contacts they cannot reach.
   */
  reaches(jid: string): boolean {
    if (this.#remote !== null) return true;
    const slash = jid.indexOf("/");
    const bare = slash === -1 ? jid : jid.slice(0, slash);
    const domain = bare.slice(bare.indexOf("@") + 1);
    return domain === this.domain || this.#components.has(domain);
  }

  /** Whether federation is on. */
  get federates(): boolean {
    return this.#remote !== null;
  }

  /** Attaches a component that owns its own domain. */
  addComponent(component: Component): void {
    this.#components.set(component.domain, component);
  }

  /** The attached components. */
  components(): Component[] {
    return [...this.#components.values()];
  }

  /** Every bound session. */
  *allSessions(): Iterable<BoundSession> {
    for (const byResource of this.#sessions.values()) yield* byResource.values();
  }

  /** How many sessions are bound. */
  get sessionCount(): number {
    let count = 0;
    for (const byResource of this.#sessions.values()) count += byResource.size;
    return count;
  }

  /** The bound sessions of one account. */
  sessionsOf(bare: string): BoundSession[] {
    const byResource = this.#sessions.get(bare);
    return byResource ? [...byResource.values()] : [];
  }

  /** Whether a full JID is bound. */
  isBound(full: Jid): boolean {
    return this.#sessions.get(full.bare)?.has(full.resource) ?? false;
  }

  /** Calls `listener` whenever a session has bound a resource. */
  onSessionBound(listener: (session: BoundSession) => void): void {
    this.#boundListeners.push(listener);
  }

  /** Calls `listener` whenever a bound session has ended (after its presence was cleaned up). */
  onSessionEnded(listener: (session: BoundSession) => void): void {
    this.#endedListeners.push(listener);
  }

  /** Runs listeners so that one failing is logged and the others still run. */
  #notify(listeners: ((session: BoundSession) => void)[], session: BoundSession, what: string) {
    for (const listener of listeners) {
      try {
        listener(session);
      } catch (error) {
        this.#options.log(
          `error in ${what} listener for ${session.jid.full}: ${
            error instanceof Error ? error.stack ?? error.message : String(error)
          }`,
        );
      }
    }
  }

  /** Registers a bound session; returns the session that held the same full JID, if any. */
  bind(session: BoundSession): BoundSession | undefined {
    let byResource = this.#sessions.get(session.jid.bare);
    if (!byResource) this.#sessions.set(session.jid.bare, byResource = new Map());
    const previous = byResource.get(session.jid.resource);
    byResource.set(session.jid.resource, session);
    this.#byFull.set(session.jid.full, session);
    this.#notify(this.#boundListeners, session, "session-bound");
    return previous === session ? undefined : previous;
  }

  /**
   * Removes a session that ended, telling everyone who saw it available
   * (its other resources and directed-presence targets such as MUC rooms).
   */
  async unbind(session: BoundSession): Promise<void> {
    const byResource = this.#sessions.get(session.jid.bare);
    if (byResource?.get(session.jid.resource) === session) {
      byResource.delete(session.jid.resource);
      this.#byFull.delete(session.jid.full);
      if (byResource.size === 0) this.#sessions.delete(session.jid.bare);
    }
    const previous = session.presence;
    const wasAvailable = previous !== null && !this.#stopping;
    session.presence = null;
    if (this.#stopping) {
      session.directedPresence = undefined;
      this.#notify(this.#endedListeners, session, "session-ended");
      return;
    }
    const targets = [...session.directedPresence ?? []];
    session.directedPresence = undefined;
    const from = session.jid.full;
    if (wasAvailable) {
      for (const other of this.sessionsOf(session.jid.bare)) {
        if (other.presence) {
          other.send(el("presence", { from, to: other.jid.full, type: "unavailable" }));
        }
      }
      // RFC 6121 §4.5.2: the server broadcasts unavailable presence for a stream that ended.
      this.hooks.notify("presence-broadcast", {
        stanza: el("presence", { from, type: "unavailable" }),
        origin: session,
        previous,
        previousPriority: session.priority,
      });
    }
    for (const to of targets) {
      await this.route(el("presence", { from, to, type: "unavailable" }));
    }
    this.#notify(this.#endedListeners, session, "session-ended");
  }

  /**
   * Fan-out fast path for components: hands a serialized stanza straight to the local session
   * bound to `to` (a full JID exactly as bound). Returns false when there is no such session, so
   * the caller can fall back to `route()` or drop.
   */
  deliverXml(to: string, xml: string): boolean {
    const session = this.#byFull.get(to);
    if (session === undefined) return false;
    session.sendXml(xml);
    return true;
  }

  /** Handles a stanza from a local client; `from` is already stamped with its full JID. */
  fromClient(stanza: Element, origin: BoundSession): void | Promise<void> {
    if (
      stanza.name === "presence" && stanza.attrs.type === undefined &&
      this.hooks.has("client-presence")
    ) {
      const event = { stanza, origin };
      this.hooks.notify("client-presence", event);
      stanza = event.stanza;
    }
    if (stanza.name === "presence" && stanza.attrs.to === undefined) {
      return this.#broadcastPresence(stanza, origin);
    }
    try {
      if (this.hooks.fire("client-stanza", { stanza, origin })) return;
    } catch (error) {
      return this.#bounce(stanza, error);
    }
    if (stanza.name === "presence") this.#trackDirectedPresence(stanza, origin);
    return this.route(stanza, origin);
  }

  /** Routes a stanza by its `to`; errors become error replies to its sender. */
  route(stanza: Element, origin?: BoundSession): void | Promise<void> {
    try {
      const result = this.#route(stanza, origin);
      if (result instanceof Promise) return result.catch((error) => this.#bounce(stanza, error));
    } catch (error) {
      this.#bounce(stanza, error);
    }
  }

  #route(stanza: Element, origin?: BoundSession): void | Promise<void> {
    const to = this.#target(stanza, origin);
    if (to.domain === this.domain) {
      return to.local
        ? this.#toAccount(stanza, to, origin)
        : this.#toServer(stanza, "server", origin);
    }
    const component = this.#components.get(to.domain);
    if (component) return component.handle(stanza);
    if (this.#remote !== null) return this.#remote.send(stanza);
    throw new StanzaError("cancel", "remote-server-not-found", {
      text: `This server does not federate; ${to.domain} is not reachable`,
    });
  }

  #target(stanza: Element, origin?: BoundSession): Jid {
    const to = stanza.attrs.to;
    // RFC 6120 §10.3: no 'to' means the sender's own account.
    if (to === undefined) {
      if (origin) return origin.jid.toBare();
      throw new StanzaError("modify", "bad-request", { text: "Stanza has no recipient" });
    }
    try {
      return parseJid(to);
    } catch (error) {
      throw new StanzaError("modify", "jid-malformed", {
        text: error instanceof JidError ? error.message : "Malformed JID",
      });
    }
  }

  async #toServer(stanza: Element, target: IqTarget, origin?: BoundSession): Promise<void> {
    // Messages and presence for the server itself have no consumer yet: drop them.
    if (stanza.name !== "iq") return;
    const type = stanza.attrs.type;
    if (type !== "get" && type !== "set") return;
    const handler = this.iq.find(target, stanza);
    const result = await handler(stanza, { origin });
    await this.route(result);
  }

  #toAccount(stanza: Element, to: Jid, origin?: BoundSession): void | Promise<void> {
    const sessions = this.#sessions.get(to.bare);
    if (!sessions && !this.#options.accountExists(to.local)) {
      // RFC 6121 §8.5.2.1.1: presence to a non-existent account is ignored silently.
      if (stanza.name === "presence") return;
      throw new StanzaError("cancel", "service-unavailable");
    }
    if (this.hooks.fire("inbound", { stanza, to })) return;
    if (to.resource) {
      const session = sessions?.get(to.resource);
      if (session) {
        session.send(stanza);
        if (stanza.name === "message") this.#delivered(stanza, to, [session]);
        return;
      }
      // RFC 6121 §8.5.3.2: no such resource.
      if (stanza.name === "iq") {
        if (stanza.attrs.type === "get" || stanza.attrs.type === "set") {
          throw new StanzaError("cancel", "service-unavailable");
        }
        return;
      }
      if (stanza.name === "presence") return;
      // RFC 6121 §8.5.3.2.1: normal and chat fall back to the bare JID, headline is dropped.
      const type = stanza.attrs.type ?? "normal";
      if (type === "error" || type === "headline") return;
      if (type === "groupchat") throw new StanzaError("cancel", "service-unavailable");
      return this.#messageToBare(stanza, to);
    }
    if (stanza.name === "iq") return this.#toServer(stanza, "account", origin);
    if (stanza.name === "message") return this.#messageToBare(stanza, to);
    for (const session of sessions?.values() ?? []) if (session.presence) session.send(stanza);
  }

  /**
   * RFC 6121 §8.5.2.1: a message to a bare JID goes to the available resources with the highest
   * non-negative priority (all of them when several share it); a headline to every non-negative
   * one. With none, the `message-undelivered` hook may store it (XEP-0160).
   */
  #messageToBare(stanza: Element, to: Jid): void {
    const type = stanza.attrs.type ?? "normal";
    if (type === "error") return;
    if (type === "groupchat") throw new StanzaError("cancel", "service-unavailable");
    const targets: BoundSession[] = [];
    let top = -1;
    for (const session of this.#sessions.get(to.bare)?.values() ?? []) {
      if (session.presence === null || session.priority < 0) continue;
      if (type === "headline" || session.priority === top) targets.push(session);
      else if (session.priority > top) {
        top = session.priority;
        targets.length = 0;
        targets.push(session);
      }
    }
    if (targets.length === 0) {
      if (this.hooks.fire("message-undelivered", { stanza, to })) return;
      if (type === "headline") return;
      throw new StanzaError("cancel", "service-unavailable", {
        text: "The recipient is offline",
      });
    }
    for (const session of targets) session.send(stanza);
    this.#delivered(stanza, to, targets);
  }

  #delivered(stanza: Element, to: Jid, sessions: BoundSession[]): void {
    if (this.hooks.has("message-delivered")) {
      this.hooks.notify("message-delivered", { stanza, to, sessions });
    }
  }

  /** RFC 6121 §4.2–4.5: presence without 'to' goes to the user's own available resources. */
  async #broadcastPresence(stanza: Element, origin: BoundSession): Promise<void> {
    const type = stanza.attrs.type;
    if (type !== undefined && type !== "unavailable") return;
    const previous = origin.presence;
    const previousPriority = origin.priority;
    if (type === undefined) {
      origin.presence = stanza;
      const priority = Number.parseInt(stanza.getChildText("priority") ?? "0", 10);
      origin.priority = Number.isInteger(priority) && Math.abs(priority) <= 127 ? priority : 0;
    } else {
      origin.presence = null;
    }
    for (const session of this.sessionsOf(origin.jid.bare)) {
      if (session.presence || session === origin) {
        session.send(stanza.clone({ ...stanza.attrs, to: session.jid.full }));
      }
    }
    if (type === undefined || previous !== null) {
      this.hooks.notify("presence-broadcast", { stanza, origin, previous, previousPriority });
    }
    if (type === "unavailable") {
      const targets = [...origin.directedPresence ?? []];
      origin.directedPresence = undefined;
      for (const to of targets) {
        await this.route(el("presence", { from: origin.jid.full, to, type: "unavailable" }));
      }
    }
  }

  /** RFC 6121 §4.6: remember directed presence so the target hears when the session ends. */
  #trackDirectedPresence(stanza: Element, origin: BoundSession): void {
    const to = stanza.attrs.to!;
    const type = stanza.attrs.type;
    const directed = origin.directedPresence;
    if (type === undefined) (origin.directedPresence ??= new Set()).add(to);
    else if (type === "unavailable" && directed !== undefined) {
      directed.delete(to);
      // Leaving a room by its bare JID ends the presence sent to room/nick too.
      for (const target of directed) {
        if (target.startsWith(to + "/")) directed.delete(target);
      }
    }
  }

  #bounce(stanza: Element, error: unknown): void {
    let stanzaError: StanzaError;
    if (error instanceof StanzaError) stanzaError = error;
    else {
      this.#options.log(
        `error handling <${stanza.name}> from ${stanza.attrs.from ?? "?"}: ${
          error instanceof Error ? error.stack ?? error.message : String(error)
        }`,
      );
      stanzaError = new StanzaError("cancel", "internal-server-error");
    }
    const bounce = errorReply(stanza, stanzaError);
    if (bounce && bounce.attrs.to !== undefined) {
      const again = this.route(bounce);
      if (again instanceof Promise) again.catch(() => {});
    }
  }
}
