import { strict as assert } from "node:assert";
import { openDatabase } from "./sqlite.ts";
import { SqliteTombstoneStore } from "./tombstone_store.ts";

Deno.test("SqliteTombstoneStore records, replaces and purges tombstones", () => {
  using db = openDatabase(":memory:");
  const store = new SqliteTombstoneStore(db);
  assert.equal(store.removedAt("tybalt"), null);
  store.add("tybalt", 100);
  store.add("tybalt", 200);
  store.add("paris", 50);
  assert.equal(store.removedAt("tybalt"), 200);
  assert.equal(store.purge(150), 1);
  assert.equal(store.removedAt("paris"), null);
  assert.equal(store.removedAt("tybalt"), 200);
});
