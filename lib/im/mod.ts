// Instant messaging (RFC 6121 and the everyday XEPs) as server modules, one per specification:
// roster and subscriptions, presence, blocking, offline messages, carbons. Each is a thin
// declaration over the installers beside it; this file shows the whole feature set.
import { boolean, integer } from "../config/values.ts";
import type { LastActivityApi } from "../last_activity/mod.ts";
import type { NamedModule } from "../modules/module.ts";
import type { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import type { LastActivityStore } from "../storage/last_activity_store.ts";
import { SqliteRosterStore } from "../storage/roster_store.ts";
import { el } from "../xml/element.ts";
import { accountDiscoAccess } from "./account_disco.ts";
import { prepareAccountRemoval } from "./account_removal.ts";
import { SqliteBlocklistStore } from "./blocklist_store.ts";
import { Blocklists, NO_BLOCKS } from "./blocklists.ts";
import { blockingModule } from "./blocking.ts";
import { carbonsModule } from "./carbons.ts";
import { offlineModule } from "./offline.ts";
import { SqliteOfflineStore } from "./offline_store.ts";
import { presenceModule } from "./presence.ts";
import { rosterModule } from "./roster.ts";
import { Rosters } from "./rosters.ts";
import { type Subscriptions, subscriptionsModule } from "./subscriptions.ts";

export { prepareAccountRemoval } from "./account_removal.ts";
export { type BlockCheck, Blocklists, NO_BLOCKS } from "./blocklists.ts";
export { Rosters } from "./rosters.ts";
export { inbound, outbound, Subscriptions, type SubscriptionState } from "./subscriptions.ts";

/** What the roster module offers: the rosters and the subscription state machine. */
export interface RosterApi {
  readonly rosters: Rosters;
  readonly subscriptions: Subscriptions;
}

/** What the blocking module offers: the users' blocklists. */
export interface BlockingApi {
  readonly blocklists: Blocklists;
}

/** Default `[offline] max_messages`. */
export const DEFAULT_OFFLINE_MAX_MESSAGES = 100;

/**
 * Rosters (RFC 6121 §2) with versioning, and presence subscriptions (§3) with pre-approval, kept
 * in `roster_items`, `roster_versions` and `subscription_requests` (schema v2).
 */
export const ROSTER_MODULE: NamedModule<"roster", Record<never, never>, RosterApi> = {
  name: "roster",
  description: "Roster and presence subscriptions (RFC 6121 §2–3), versioning, pre-approval",
  dependsOn: [],
  options: {},
  start({ router, db }) {
    const rosters = new Rosters(new SqliteRosterStore(db), router);
    const subscriptions = subscriptionsModule(router, rosters);
    rosterModule(router, { rosters, subscriptions });
    // RFC 6121 §2.6.1 and §3.4.1: advertised with resource binding.
    router.streamFeatures.push(
      el("ver", { xmlns: NS.ROSTER_VERSIONING }),
      el("sub", { xmlns: NS.PRE_APPROVAL }),
    );
    return { api: { rosters, subscriptions } };
  },
};

/** `[blocking]` options. */
export interface BlockingConfig {
  /**
   * Answer messages and iq requests from a blocked entity with service-unavailable (as for an
   * unavailable user; XEP-0191 §3.5) instead of dropping them silently. Presence is always dropped.
   */
  bounce: boolean;
}

/** The Blocking Command (XEP-0191), its lists in `blocklist` (schema v2, blocklist_store.ts). */
export const BLOCKING_MODULE: NamedModule<
  "blocking",
  BlockingConfig,
  BlockingApi,
  { roster: RosterApi }
> = {
  name: "blocking",
  description: "Blocking Command (XEP-0191): blocklists, enforced in both directions",
  dependsOn: ["roster"],
  options: { bounce: { default: true, read: boolean } },
  features: { server: [NS.BLOCKING] },
  start({ router, db, config, modules }) {
    const blocklists = new Blocklists(new SqliteBlocklistStore(db), router);
    // Access control first: blocking runs at Priority.ACCESS on the stanza hooks.
    blockingModule(router, { blocklists, rosters: modules.roster.rosters, bounce: config.bounce });
    return { api: { blocklists } };
  },
};

/** Without the last-activity module, probes of offline contacts carry no last status. */
const NO_LAST_ACTIVITY: LastActivityStore = { get: () => null, set: () => {} };

/**
 * Presence (RFC 6121 §4): broadcast, probes (answered with the last unavailable presence that
 * the last-activity module recorded), and who may discover an account (XEP-0030 §8).
 */
export const PRESENCE_MODULE: NamedModule<
  "presence",
  Record<never, never>,
  void,
  { roster: RosterApi; blocking?: BlockingApi; last_activity?: LastActivityApi }
> = {
  name: "presence",
  description: "Presence broadcast and probes (RFC 6121 §4); account disco access (XEP-0030 §8)",
  dependsOn: ["roster"],
  uses: ["blocking", "last_activity"],
  options: {},
  start({ router, modules }) {
    const { rosters } = modules.roster;
    accountDiscoAccess(router, rosters);
    presenceModule(router, {
      rosters,
      blocklists: modules.blocking?.blocklists ?? NO_BLOCKS,
      lastActivity: modules.last_activity?.store ?? NO_LAST_ACTIVITY,
    });
  },
};

/** `[offline]` options. */
export interface OfflineConfig {
  /** Messages kept per offline user; more are refused with service-unavailable. 0 disables. */
  maxMessages: number;
}

/** Offline messages (XEP-0160), kept in `offline_messages` (schema v2, offline_store.ts). */
export const OFFLINE_MODULE: NamedModule<"offline", OfflineConfig> = {
  name: "offline",
  description: "Offline messages (XEP-0160): stored for users who are away, delivered at login",
  dependsOn: [],
  options: {
    maxMessages: {
      default: DEFAULT_OFFLINE_MAX_MESSAGES,
      read: (key, value) => integer(key, value, 0, 1_000_000),
    },
  },
  features: (config) => config.maxMessages > 0 ? { server: [NS.OFFLINE] } : {},
  start({ router, db, config }) {
    offlineModule(router, { store: new SqliteOfflineStore(db), maxMessages: config.maxMessages });
  },
};

/** Message Carbons (XEP-0280). */
export const CARBONS_MODULE: NamedModule<"carbons"> = {
  name: "carbons",
  description: "Message Carbons (XEP-0280): copies of a user's chats to their other resources",
  dependsOn: [],
  options: {},
  features: { server: [NS.CARBONS] },
  start({ router }) {
    carbonsModule(router);
  },
};

/**
 * What account removal must tell the contacts, with the roster and (when enabled) the blocklists;
 * see {@linkcode prepareAccountRemoval}.
 */
export function accountRemoval(
  router: Router,
  roster: RosterApi,
  blocking: BlockingApi | undefined,
): (username: string) => () => void {
  return (username) =>
    prepareAccountRemoval(router, username, {
      rosters: roster.rosters,
      subscriptions: roster.subscriptions,
      blocklists: blocking?.blocklists ?? NO_BLOCKS,
    });
}
