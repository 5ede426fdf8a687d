// Roster state (RFC 6121 §2): items cached for users who are online, versions (§2.6) and roster
// pushes (§2.1.6) to every interested resource, i.e. each that has requested the roster.
import type { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import { NS } from "../stanza/ns.ts";
import type { RosterStore, StoredRosterItem, Subscription } from "../storage/roster_store.ts";
import { el, type Element } from "../xml/element.ts";
import { afterAnswer } from "./_deliver.ts";

export type { StoredRosterItem as RosterItem, Subscription };

/** Whether the user receives the contact's presence. */
export function hasTo(item: StoredRosterItem | undefined): boolean {
  return item?.subscription === "to" || item?.subscription === "both";
}

/** Whether the contact receives the user's presence. */
export function hasFrom(item: StoredRosterItem | undefined): boolean {
  return item?.subscription === "from" || item?.subscription === "both";
}

/** The subscription value for a pair of directions. */
export function subscriptionOf(to: boolean, from: boolean): Subscription {
  return to ? (from ? "both" : "to") : (from ? "from" : "none");
}

/** The `<item/>` of a roster result or push. */
export function itemElement(item: StoredRosterItem): Element {
  return el(
    "item",
    {
      jid: item.jid,
      name: item.name,
      subscription: item.subscription,
      ask: item.ask ? "subscribe" : undefined,
      approved: item.approved ? "true" : undefined,
    },
    ...item.groups.map((group) => el("group", {}, group)),
  );
}

let pushNumber = 0;

/** How a roster change is pushed. */
export interface PushOptions {
  /**
   * Push once the current iq has been answered: the resource that sent a roster set gets its
   * result first and the push after, the order Prosody uses (RFC 6121 §2.3.2 fixes none).
   */
  afterAnswer?: boolean;
}

/** The cached roster of every user whose roster is empty (replaced, never written, on a save). */
const EMPTY_ROSTER: Map<string, StoredRosterItem> = new Map();

/** Rosters of the server's users, read through a cache while the user has sessions. */
export class Rosters {
  #store: RosterStore;
  #router: Router;
  #cache = new Map<string, Map<string, StoredRosterItem>>();
  #interested = new WeakSet<BoundSession>();

  constructor(store: RosterStore, router: Router) {
    this.#store = store;
    this.#router = router;
    router.onSessionEnded((session) => {
      if (this.#router.sessionsOf(session.jid.bare).length === 0) {
        this.#cache.delete(session.jid.local);
      }
    });
  }

  /** The user's items by contact bare JID. Do not modify the map. */
  items(username: string): ReadonlyMap<string, StoredRosterItem> {
    const cached = this.#cache.get(username);
    if (cached) return cached;
    const stored = this.#store.items(username);
    const items = stored.length === 0
      ? EMPTY_ROSTER
      : new Map(stored.map((item) => [item.jid, item]));
    if (this.#router.sessionsOf(`${username}@${this.#router.domain}`).length > 0) {
      this.#cache.set(username, items);
    }
    return items;
  }

  /**
   * One item, or undefined if the contact is not in the roster. For a user without sessions it
   * reads that one row: every contact that logs in probes an offline user and presents itself to
   * it, and reading the whole roster each time made those logins cost O(roster size) each.
   */
  item(username: string, contact: string): StoredRosterItem | undefined {
    const cached = this.#cache.get(username);
    if (cached) return cached.get(contact);
    // A user with sessions gets the whole roster cached, as items() does.
    if (this.#router.sessionsOf(`${username}@${this.#router.domain}`).length > 0) {
      return this.items(username).get(contact);
    }
    return this.#store.item(username, contact);
  }

  /** The current roster version. */
  version(username: string): number {
    return this.#store.version(username);
  }

  /** Stores an item and pushes it to the user's interested resources. */
  save(username: string, item: StoredRosterItem, options: PushOptions = {}): void {
    const version = this.#store.put(username, item);
    const cached = this.#cache.get(username);
    if (cached === EMPTY_ROSTER) this.#cache.set(username, new Map([[item.jid, item]]));
    else cached?.set(item.jid, item);
    this.#push(username, itemElement(item), version, options);
  }

  /** Deletes an item and pushes its removal; false if it was not there. */
  remove(username: string, contact: string, options: PushOptions = {}): boolean {
    const version = this.#store.remove(username, contact);
    if (version === null) return false;
    const cached = this.#cache.get(username);
    if (cached !== EMPTY_ROSTER) cached?.delete(contact);
    this.#push(username, el("item", { jid: contact, subscription: "remove" }), version, options);
    return true;
  }

  /**
   * Drops the cached roster of an account that was removed, so that its sessions, while they
   * close, read the (now empty) store and tell nobody more.
   */
  forget(username: string): void {
    this.#cache.delete(username);
  }

  /** The session asked for the roster, so it gets pushes from now on (RFC 6121 §2.1.6). */
  markInterested(session: BoundSession): void {
    this.#interested.add(session);
  }

  /** The user's sessions that requested the roster: its "interested resources" (§2.1.6). */
  interestedSessions(bare: string): BoundSession[] {
    return this.#router.sessionsOf(bare).filter((session) => this.#interested.has(session));
  }

  /** Pending inbound requests of a user: the stored presence stanzas as XML. */
  pending(username: string): { contact: string; stanza: string }[] {
    return this.#store.pending(username);
  }

  /** Whether an inbound request from `contact` waits for the user's answer. */
  hasPending(username: string, contact: string): boolean {
    return this.#store.pending(username).some((request) => request.contact === contact);
  }

  /** Keeps the whole presence stanza of an inbound request until it is answered. */
  addPending(username: string, contact: string, stanza: Element): void {
    this.#store.addPending(username, { contact, stanza: stanza.toString() });
  }

  /** Forgets the pending request of `contact`. */
  removePending(username: string, contact: string): boolean {
    return this.#store.removePending(username, contact);
  }

  #push(username: string, item: Element, version: number, options: PushOptions): void {
    if (options.afterAnswer) {
      afterAnswer(() => this.#push(username, item, version, {}));
      return;
    }
    for (const session of this.#router.sessionsOf(`${username}@${this.#router.domain}`)) {
      if (!this.#interested.has(session)) continue;
      session.send(
        el(
          "iq",
          { type: "set", id: `push${(++pushNumber).toString(36)}`, to: session.jid.full },
          el("query", { xmlns: NS.ROSTER, ver: String(version) }, item),
        ),
      );
    }
  }
}
