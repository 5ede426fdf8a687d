// Personal Eventing Protocol (XEP-0163) on a PubSub core (XEP-0060) as a server module: see
// pep.ts; nodes and items in the module's own tables (pep_store.ts), removed with the account.
import type { CapsApi } from "../caps/mod.ts";
import { integer } from "../config/values.ts";
import type { BlockingApi, RosterApi } from "../im/mod.ts";
import type { NamedModule } from "../modules/module.ts";
import { PEP_FEATURES, type PepApi, pepModule } from "./pep.ts";
import { PEP_MIGRATIONS, SqlitePepStore } from "./pep_store.ts";

export {
  PEP_FEATURES,
  type PepApi,
  type PepChange,
  type PepLimits,
  pepModule,
  type PepOptions,
} from "./pep.ts";
export { PEP_MIGRATIONS, type PepStore, SqlitePepStore } from "./pep_store.ts";

/** `[pep]` options. */
export interface PepConfig {
  /** The largest `pubsub#max_items` a node may have; also what "max" means. */
  maxItems: number;
  /** Nodes per account. */
  maxNodes: number;
  /** Largest item payload, in bytes of XML. */
  maxPayloadBytes: number;
  /** Affiliations (members, publishers, outcasts) per node. */
  maxAffiliations: number;
  /** The largest page of items asked for with RSM (XEP-0059), and its size when none is asked. */
  maxPageItems: number;
}

/** Default `[pep]` options. */
export const PEP_DEFAULTS: Readonly<PepConfig> = {
  maxItems: 256,
  maxNodes: 256,
  maxPayloadBytes: 128 * 1024,
  maxAffiliations: 256,
  maxPageItems: 64,
};

/** Every account a pubsub service: publish, retrieve, notify by caps, persisted in SQLite. */
export const PEP_MODULE: NamedModule<
  "pep",
  PepConfig,
  PepApi,
  { roster: RosterApi; caps: CapsApi; disco?: void; blocking?: BlockingApi }
> = {
  name: "pep",
  description: "Personal Eventing (XEP-0163) on PubSub (XEP-0060): per-account nodes and items",
  dependsOn: ["roster", "caps"],
  uses: ["disco", "blocking"],
  options: {
    maxItems: {
      default: PEP_DEFAULTS.maxItems,
      read: (key, value) => integer(key, value, 1, 100_000),
    },
    maxNodes: {
      default: PEP_DEFAULTS.maxNodes,
      read: (key, value) => integer(key, value, 1, 100_000),
    },
    maxPayloadBytes: {
      default: PEP_DEFAULTS.maxPayloadBytes,
      read: (key, value) => integer(key, value, 1024, 2 ** 24),
    },
    maxAffiliations: {
      default: PEP_DEFAULTS.maxAffiliations,
      read: (key, value) => integer(key, value, 0, 100_000),
    },
    maxPageItems: {
      default: PEP_DEFAULTS.maxPageItems,
      read: (key, value) => integer(key, value, 1, 10_000),
    },
  },
  features: { account: PEP_FEATURES },
  migrations: PEP_MIGRATIONS,
  start({ router, db, config, modules, log }) {
    const api = pepModule(router, {
      store: new SqlitePepStore(db),
      rosters: modules.roster.rosters,
      caps: modules.caps,
      blocklists: modules.blocking?.blocklists,
      limits: config,
      log,
    });
    return { api };
  },
};
