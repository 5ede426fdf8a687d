import { strict as assert } from "node:assert";
import { SqliteAccountStore } from "./account_store.ts";
import { SqliteLastActivityStore } from "./last_activity_store.ts";
import { openDatabase } from "./sqlite.ts";

Deno.test("SqliteLastActivityStore keeps the latest logout per account", () => {
  using db = openDatabase(":memory:");
  new SqliteAccountStore(db).create("juliet", []);
  const store = new SqliteLastActivityStore(db);
  assert.equal(store.get("juliet"), null);
  store.set("juliet", { logoutAt: 1000, status: "Gone" });
  store.set("juliet", { logoutAt: 2000, status: null });
  assert.deepEqual(store.get("juliet"), { logoutAt: 2000, status: null });
  // Only existing accounts: the foreign key refuses others.
  assert.throws(() => store.set("nobody", { logoutAt: 1, status: null }));
});
