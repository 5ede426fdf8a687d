// Message Archive Management (XEP-0313, urn:xmpp:mam:2 and #extended) for accounts, as a server
// module, section [mam]: archiving.ts (what is archived, stanza-ids of XEP-0359), query.ts (the
// queries, metadata and XEP-0441 preferences), archive_store.ts (the tables, its own migrations),
// expiry.ts (retention). Archives go with their account through the schema's cascade.
import { integer } from "../config/values.ts";
import { invalid } from "../config/values.ts";
import type { RosterApi } from "../im/mod.ts";
import type { NamedModule } from "../modules/module.ts";
import { NS } from "../stanza/ns.ts";
import { type ArchivePolicy, MAM_MIGRATIONS, SqliteArchiveStore } from "./archive_store.ts";
import { archivingHooks } from "./archiving.ts";
import { readExpiry, schedulePruning } from "./expiry.ts";
import { queryHandlers } from "./query.ts";

export {
  type ArchivedMessage,
  type ArchivePage,
  type ArchivePolicy,
  type ArchivePrefs,
  type ArchiveQuery,
  type ArchiveStore,
  MAM_MIGRATIONS,
  SqliteArchiveStore,
  UnknownArchiveId,
} from "./archive_store.ts";
export { archivedCopy, isArchivable, stripStanzaIds } from "./archiving.ts";
export { readExpiry, schedulePruning } from "./expiry.ts";
export { queryForm, resultMessage, runQuery } from "./query.ts";
export { type PageLimits, readQuery } from "./_codec.ts";

/** Default `[mam] expires_after`: a week, as Prosody's `archive_expires_after = "1w"`. */
export const DEFAULT_MAM_EXPIRES_AFTER = "1w";
/** Default `[mam] page_size` and `max_page_size`: Prosody's 20 and 50. */
export const DEFAULT_MAM_PAGE_SIZE = 20;
export const DEFAULT_MAM_MAX_PAGE_SIZE = 50;

/** `[mam]` options. */
export interface MamConfig {
  /** What is archived for users who have set no preferences: always, roster (contacts), never. */
  defaultPolicy: ArchivePolicy;
  /** How long messages are kept, ms; 0 forever. In the file: "1w", "30d", "1y", "never"... */
  expiresAfter: number;
  /** Results per page when a query gives no RSM `<max/>`. */
  pageSize: number;
  /** Most results per page; larger `<max/>` values are lowered to it. */
  maxPageSize: number;
}

/** What the mam module offers other modules: the archive store. */
export interface MamApi {
  readonly store: SqliteArchiveStore;
}

const POLICIES: readonly string[] = ["always", "roster", "never"];

/** Message archives on accounts' bare JIDs, queried by their owners. */
export const MAM_MODULE: NamedModule<"mam", MamConfig, MamApi, { roster?: RosterApi }> = {
  name: "mam",
  description: "Message Archive Management (XEP-0313): users' message history on the server",
  dependsOn: [],
  uses: ["roster"],
  options: {
    defaultPolicy: {
      default: "always",
      read: (key, value) => {
        if (typeof value !== "string" || !POLICIES.includes(value)) {
          invalid(key, '"always", "roster" or "never"', value);
        }
        return value as ArchivePolicy;
      },
    },
    expiresAfter: { default: readExpiry("", DEFAULT_MAM_EXPIRES_AFTER), read: readExpiry },
    pageSize: {
      default: DEFAULT_MAM_PAGE_SIZE,
      read: (key, value) => integer(key, value, 1, 10_000),
    },
    maxPageSize: {
      default: DEFAULT_MAM_MAX_PAGE_SIZE,
      read: (key, value) => integer(key, value, 1, 10_000),
    },
  },
  check(config) {
    if (config.pageSize > config.maxPageSize) {
      invalid(
        "mam.page_size",
        `at most mam.max_page_size (${config.maxPageSize})`,
        config.pageSize,
      );
    }
  },
  // XEP-0313 §7 on the archive's address; XEP-0359 §5 for the stanza-id rules.
  features: { account: [NS.MAM, NS.MAM_EXTENDED, NS.STANZA_ID] },
  migrations: MAM_MIGRATIONS,
  start({ router, db, config, accounts, modules, log }) {
    const store = new SqliteArchiveStore(db, {
      onError: (owner, error) =>
        log(
          `error archiving a message for ${owner}: ${
            error instanceof Error ? error.message : String(error)
          }`,
        ),
    });
    const rosters = modules.roster?.rosters;
    archivingHooks(router, {
      store,
      defaultPolicy: config.defaultPolicy,
      inRoster: (username, contact) => rosters?.item(username, contact) !== undefined,
      accountExists: (username) => accounts.exists(username),
      log,
    });
    queryHandlers(router, {
      store,
      defaultPolicy: config.defaultPolicy,
      defaultPageSize: config.pageSize,
      maxPageSize: config.maxPageSize,
    });
    const stopPruning = schedulePruning(store, { expireAfterMs: config.expiresAfter, log });
    return {
      api: { store },
      stop() {
        stopPruning();
        store.flush();
      },
    };
  },
};
