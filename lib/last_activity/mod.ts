// Last Activity (XEP-0012) as a server module: see last_activity.ts; logouts live in the
// `last_activity` table (schema v2, lib/storage/last_activity_store.ts, read by `verona user show`).
import type { NamedModule } from "../modules/module.ts";
import { SqliteAccountFacts } from "../storage/account_facts.ts";
import { type LastActivityStore, SqliteLastActivityStore } from "../storage/last_activity_store.ts";
import { lastActivityModule } from "./last_activity.ts";

export { lastActivityModule, type LastActivityOptions } from "./last_activity.ts";

/** What the last-activity module offers: the logouts it records (presence reads them). */
export interface LastActivityApi {
  readonly store: LastActivityStore;
}

/** The server's uptime and accounts' last logout. */
export const LAST_ACTIVITY_MODULE: NamedModule<
  "last_activity",
  Record<never, never>,
  LastActivityApi
> = {
  name: "last_activity",
  description: "Last Activity (XEP-0012): server uptime, time since an account's last logout",
  dependsOn: [],
  options: {},
  start({ router, db, accounts }) {
    const store = new SqliteLastActivityStore(db);
    const facts = new SqliteAccountFacts(db);
    lastActivityModule(router, {
      store,
      accountExists: (username) => accounts.exists(username),
      canSeePresence: (username, contact) => facts.canSeePresence(username, contact),
    });
    return { api: { store } };
  },
};
