// Instant messaging (RFC 6121 and the everyday XEPs), as small modules wired explicitly onto the
// router's hooks and iq registry. This file shows the whole feature set.
import type { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import type { BlocklistStore } from "../storage/blocklist_store.ts";
import type { LastActivityStore } from "../storage/last_activity_store.ts";
import type { OfflineStore } from "../storage/offline_store.ts";
import type { RosterStore } from "../storage/roster_store.ts";
import { el } from "../xml/element.ts";
import { accountDiscoAccess } from "./account_disco.ts";
import { prepareAccountRemoval } from "./account_removal.ts";
import { Blocklists } from "./blocklists.ts";
import { blockingModule } from "./blocking.ts";
import { carbonsModule } from "./carbons.ts";
import { offlineModule } from "./offline.ts";
import { presenceModule } from "./presence.ts";
import { rosterModule } from "./roster.ts";
import { Rosters } from "./rosters.ts";
import { subscriptionsModule } from "./subscriptions.ts";

export { prepareAccountRemoval } from "./account_removal.ts";
export { Blocklists } from "./blocklists.ts";
export { Rosters } from "./rosters.ts";
export { inbound, outbound, Subscriptions, type SubscriptionState } from "./subscriptions.ts";

/** What the IM modules need. */
export interface ImOptions {
  rosterStore: RosterStore;
  offlineStore: OfflineStore;
  blocklistStore: BlocklistStore;
  /**
   * Last logouts (read only): a probe of a contact that is offline is answered with its last
   * unavailable status and logout time (RFC 6121 §4.3.2, XEP-0203).
   */
  lastActivityStore: LastActivityStore;
  /** `[offline] max_messages`: messages kept per offline user; 0 disables storage. */
  offlineMaxMessages: number;
  /** `[blocking] bounce`: answer blocked senders with service-unavailable instead of dropping. */
  blockingBounce: boolean;
}

/** What the IM modules offer the rest of the server. */
export interface Im {
  /**
   * Collects what the contacts of an account about to be removed must be told; call it before
   * deleting the account and the returned function after (see {@linkcode prepareAccountRemoval}).
   */
  prepareAccountRemoval(username: string): () => void;
}

/**
 * Installs roster, subscriptions, presence, offline messages, carbons and blocking.
 *
 * @example
 * ```ts
 * imModule(router, {
 *   rosterStore: new SqliteRosterStore(db),
 *   offlineStore: new SqliteOfflineStore(db),
 *   blocklistStore: new SqliteBlocklistStore(db),
 *   lastActivityStore: new SqliteLastActivityStore(db),
 *   offlineMaxMessages: 100,
 *   blockingBounce: true,
 * });
 * ```
 */
export function imModule(router: Router, options: ImOptions): Im {
  const rosters = new Rosters(options.rosterStore, router);
  const blocklists = new Blocklists(options.blocklistStore, router);
  // Access control first: blocking runs at Priority.ACCESS on the stanza hooks.
  blockingModule(router, { blocklists, rosters, bounce: options.blockingBounce });
  accountDiscoAccess(router, rosters);
  const subscriptions = subscriptionsModule(router, rosters);
  rosterModule(router, { rosters, subscriptions });
  presenceModule(router, { rosters, blocklists, lastActivity: options.lastActivityStore });
  offlineModule(router, { store: options.offlineStore, maxMessages: options.offlineMaxMessages });
  carbonsModule(router);
  // RFC 6121 §2.6.1 and §3.4.1: advertised with resource binding.
  router.streamFeatures.push(
    el("ver", { xmlns: NS.ROSTER_VERSIONING }),
    el("sub", { xmlns: NS.PRE_APPROVAL }),
  );
  return {
    prepareAccountRemoval: (username) =>
      prepareAccountRemoval(router, username, { rosters, subscriptions, blocklists }),
  };
}
