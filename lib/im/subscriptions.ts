// Presence subscriptions (RFC 6121 §3 and the state tables of Appendix A), including
// pre-approval (§3.4). Outbound stanzas are processed for the sender's roster, then routed;
// inbound ones are processed for the local contact's roster when they arrive.
import { type Jid, parseJid } from "../jid/jid.ts";
import type { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el, type Element } from "../xml/element.ts";
import { send, sendAvailable, sendUnavailable, toAvailableResources } from "./_deliver.ts";
import { hasFrom, hasTo, type RosterItem, type Rosters, subscriptionOf } from "./rosters.ts";

/** The four subscription stanza types. */
export type SubscriptionType = "subscribe" | "subscribed" | "unsubscribe" | "unsubscribed";

const TYPES: ReadonlySet<string> = new Set([
  "subscribe",
  "subscribed",
  "unsubscribe",
  "unsubscribed",
]);

/** Whether a presence type is a subscription type. */
export function isSubscriptionType(type: string | undefined): type is SubscriptionType {
  return type !== undefined && TYPES.has(type);
}

/** One side's view of a subscription: Appendix A's states plus the pre-approval flag. */
export interface SubscriptionState {
  /** The user receives the contact's presence. */
  to: boolean;
  /** The contact receives the user's presence. */
  from: boolean;
  /** "Pending Out": the user asked to subscribe. */
  pendingOut: boolean;
  /** "Pending In": the contact asked to subscribe and the user has not answered. */
  pendingIn: boolean;
  /** The user pre-approved a request from the contact (§3.4). */
  approved: boolean;
}

/** Appendix A.2: what the user's server does with an outbound subscription stanza. */
export function outbound(
  type: SubscriptionType,
  state: SubscriptionState,
): { route: boolean; next: SubscriptionState } {
  const next = { ...state };
  switch (type) {
    case "subscribe": // A.2.1: always routed
      if (!state.to) next.pendingOut = true;
      return { route: true, next };
    case "unsubscribe": // A.2.2
      next.to = false;
      next.pendingOut = false;
      return { route: true, next };
    case "subscribed": // A.2.3; without a pending request it is a pre-approval (§3.4)
      if (state.pendingIn) {
        next.pendingIn = false;
        next.from = true;
        next.approved = false;
        return { route: true, next };
      }
      if (!state.from) next.approved = true;
      return { route: false, next };
    case "unsubscribed": // A.2.4; also cancels a pre-approval
      next.approved = false;
      if (state.pendingIn || state.from) {
        next.pendingIn = false;
        next.from = false;
        return { route: true, next };
      }
      return { route: false, next };
  }
}

/** Appendix A.3: what the contact's server does with an inbound subscription stanza. */
export function inbound(
  type: SubscriptionType,
  state: SubscriptionState,
): { deliver: boolean; next: SubscriptionState; autoReply: boolean } {
  const next = { ...state };
  switch (type) {
    case "subscribe": // A.3.1; §3.1.3 auto-reply when already approved or pre-approved
      if (state.from) return { deliver: false, next, autoReply: true };
      if (state.approved) {
        next.from = true;
        next.approved = false;
        return { deliver: false, next, autoReply: true };
      }
      if (state.pendingIn) return { deliver: false, next, autoReply: false };
      next.pendingIn = true;
      return { deliver: true, next, autoReply: false };
    case "unsubscribe": // A.3.2
      if (!state.pendingIn && !state.from) return { deliver: false, next, autoReply: false };
      next.pendingIn = false;
      next.from = false;
      return { deliver: true, next, autoReply: false };
    case "subscribed": // A.3.3
      if (!state.pendingOut) return { deliver: false, next, autoReply: false };
      next.pendingOut = false;
      next.to = true;
      return { deliver: true, next, autoReply: false };
    case "unsubscribed": // A.3.4
      if (!state.pendingOut && !state.to) return { deliver: false, next, autoReply: false };
      next.pendingOut = false;
      next.to = false;
      return { deliver: true, next, autoReply: false };
  }
}

/** Subscription handling for local users; `cancel` serves roster removal (§2.5.2). */
export class Subscriptions {
  #router: Router;
  #rosters: Rosters;

  constructor(router: Router, rosters: Rosters) {
    this.#router = router;
    this.#rosters = rosters;
  }

  /** The state of `contact` in the roster of `username`. */
  state(username: string, contact: string): SubscriptionState {
    const item = this.#rosters.item(username, contact);
    return {
      to: hasTo(item),
      from: hasFrom(item),
      pendingOut: item?.ask ?? false,
      pendingIn: this.#rosters.hasPending(username, contact),
      approved: item?.approved ?? false,
    };
  }

  /** A subscription stanza from a local client (§3.1.2, §3.2.2, §3.3.2, §3.4). */
  fromClient(stanza: Element, origin: BoundSession, type: SubscriptionType): void {
    const contact = contactOf(stanza.attrs.to);
    const username = origin.jid.local;
    const user = origin.jid.bare;
    // No subscription to oneself: dropped, and one's roster stays free of one's own JID.
    if (contact === user) return;
    const before = this.state(username, contact);
    const { route, next } = outbound(type, before);
    this.#apply(username, contact, before, next);
    if (!route) return;
    // §3.1.2: the server stamps the bare JID and routes to the contact's bare JID.
    send(this.#router, stanza.clone({ ...stanza.attrs, from: user, to: contact }));
    if (!before.from && next.from) sendAvailable(this.#router, user, contact); // §3.1.5
    if (before.from && !next.from) sendUnavailable(this.#router, user, contact); // §3.2.2
  }

  /** A subscription stanza for a local user; returns true (always consumed). */
  inbound(stanza: Element, to: Jid, type: SubscriptionType): true {
    const from = stanza.attrs.from;
    if (from === undefined) return true;
    const contact = parseJid(from).bare;
    const username = to.local;
    const user = to.bare;
    const before = this.state(username, contact);
    const { deliver, next, autoReply } = inbound(type, before);
    const delivered = stanza.clone({ ...stanza.attrs, from: contact, to: user });
    if (!before.pendingIn && next.pendingIn) {
      this.#rosters.addPending(username, contact, delivered);
    }
    // The stanza first, then the roster push, as Prosody orders them (§3.1.6, §3.2.3 and §3.3.3
    // ask for both and fix no order). A request goes to the available resources (§3.1.3); the
    // other three to the interested ones (§3.1.6, §3.2.3, §3.3.3), those that asked for the roster.
    if (deliver && type === "subscribe") toAvailableResources(this.#router, user, delivered);
    else if (deliver) {
      for (const session of this.#rosters.interestedSessions(user)) session.send(delivered);
    }
    this.#apply(username, contact, before, next);
    if (autoReply) {
      send(this.#router, el("presence", { from: user, to: contact, type: "subscribed" }));
      // The requester evidently lost track: its current presence too, or that it is offline
      // (as Prosody does; §3.1.3 asks only for "subscribed").
      const available = this.#router.sessionsOf(user).some((session) => session.presence);
      if (available) sendAvailable(this.#router, user, contact);
      else if (before.from) {
        send(this.#router, el("presence", { from: user, to: contact, type: "unavailable" }));
      }
    }
    // §3.3.3: a contact that unsubscribes no longer sees the user as available.
    if (before.from && !next.from) sendUnavailable(this.#router, user, contact);
    return true;
  }

  /**
   * §2.5.2: removing an item cancels both directions. Returns what the contact must be sent,
   * for the caller to route after the roster push.
   */
  cancelAll(username: string, contact: string): Element[] {
    const user = `${username}@${this.#router.domain}`;
    const state = this.state(username, contact);
    if (state.pendingIn) this.#rosters.removePending(username, contact);
    const out: Element[] = [];
    if (state.to || state.pendingOut) {
      out.push(el("presence", { from: user, to: contact, type: "unsubscribe" }));
    }
    if (state.from || state.pendingIn) {
      out.push(el("presence", { from: user, to: contact, type: "unsubscribed" }));
    }
    return out;
  }

  #apply(
    username: string,
    contact: string,
    before: SubscriptionState,
    next: SubscriptionState,
  ): void {
    if (before.pendingIn && !next.pendingIn) this.#rosters.removePending(username, contact);
    if (
      before.to === next.to && before.from === next.from &&
      before.pendingOut === next.pendingOut && before.approved === next.approved
    ) return;
    const item: RosterItem = this.#rosters.item(username, contact) ??
      { jid: contact, subscription: "none", ask: false, approved: false, groups: [] };
    this.#rosters.save(username, {
      ...item,
      subscription: subscriptionOf(next.to, next.from),
      ask: next.pendingOut,
      approved: next.approved,
    });
  }
}

function contactOf(to: string | undefined): string {
  if (to === undefined) {
    throw new StanzaError("modify", "bad-request", { text: "A subscription request needs a 'to'" });
  }
  try {
    return parseJid(to).bare;
  } catch {
    throw new StanzaError("modify", "jid-malformed");
  }
}

/** Installs subscription handling on the router's hooks. */
export function subscriptionsModule(router: Router, rosters: Rosters): Subscriptions {
  const subscriptions = new Subscriptions(router, rosters);
  router.hooks.on("client-stanza", ({ stanza, origin }) => {
    if (stanza.name !== "presence") return;
    const type = stanza.attrs.type;
    if (!isSubscriptionType(type)) return;
    subscriptions.fromClient(stanza, origin, type);
    return true;
  });
  router.hooks.on("inbound", ({ stanza, to }) => {
    if (stanza.name !== "presence") return;
    const type = stanza.attrs.type;
    if (!isSubscriptionType(type)) return;
    return subscriptions.inbound(stanza, to, type);
  });
  return subscriptions;
}
