// Telling the contacts of an account that is removed (XEP-0077 §3.2): as if the user had removed
// every roster item (RFC 6121 §2.5.2) — `unsubscribe` where it was subscribed to the contact
// (§3.3.2), `unsubscribed` where the contact was subscribed to it (§3.2.2) — and had gone offline
// (§4.5.2). Local contacts' servers process these as any other, with roster pushes (Appendix A.3).
import type { Router } from "../router/router.ts";
import type { Element } from "../xml/element.ts";
import { send, sendUnavailable } from "./_deliver.ts";
import type { BlockCheck } from "./blocklists.ts";
import { hasFrom, type Rosters } from "./rosters.ts";
import type { Subscriptions } from "./subscriptions.ts";

/** What {@linkcode prepareAccountRemoval} reads. */
export interface AccountRemovalDeps {
  rosters: Rosters;
  subscriptions: Subscriptions;
  blocklists: BlockCheck;
}

/**
 * Collects what the contacts of `username` must be sent, and returns the function that sends it.
 * Call it before the account is deleted (its roster and pending requests go with it), and the
 * returned function after, while the account's sessions are still bound: the `unavailable`
 * presences come from each of them.
 *
 * @example
 * ```ts
 * const tellContacts = prepareAccountRemoval(router, username, { rosters, subscriptions, blocklists });
 * accounts.remove(username);
 * tellContacts();
 * ```
 */
export function prepareAccountRemoval(
  router: Router,
  username: string,
  { rosters, subscriptions, blocklists }: AccountRemovalDeps,
): () => void {
  const user = `${username}@${router.domain}`;
  const items = rosters.items(username);
  // Pending inbound requests may come from contacts that are not in the roster (§3.1.3).
  const contacts = new Set([
    ...items.keys(),
    ...rosters.pending(username).map((request) => request.contact),
  ]);
  const farewells: { contact: string; presences: Element[]; sawAvailable: boolean }[] = [];
  for (const contact of contacts) {
    farewells.push({
      contact,
      presences: subscriptions.cancelAll(username, contact),
      // Who received the user's presence broadcasts (see presence.ts): reachable, subscribed, not
      // blocked. Targets of directed presence hear from the router when the sessions end.
      sawAvailable: hasFrom(items.get(contact)) && router.reaches(contact) &&
        !blocklists.blocks(username, contact),
    });
  }
  return () => {
    rosters.forget(username);
    for (const { contact, presences, sawAvailable } of farewells) {
      for (const presence of presences) send(router, presence);
      if (sawAvailable) sendUnavailable(router, user, contact);
    }
  };
}
