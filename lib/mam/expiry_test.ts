import { strict as assert } from "node:assert";
import { migrateModule, openDatabase } from "../storage/sqlite.ts";
import { MAM_MIGRATIONS, SqliteArchiveStore } from "./archive_store.ts";
import { schedulePruning } from "./expiry.ts";

Deno.test("schedulePruning() deletes expired messages in batches, one turn of the loop each", async () => {
  using db = openDatabase(":memory:");
  migrateModule(db, "mam", MAM_MIGRATIONS);
  db.prepare("INSERT INTO accounts (username, created_at) VALUES ('juliet', 0)").run();
  const store = new SqliteArchiveStore(db);
  for (let i = 0; i < 25; i++) {
    store.append("juliet", { with: "romeo@localhost", direction: "in", stanza: "<m/>", time: i });
  }
  store.flush();
  const calls: number[] = [];
  const pruning = {
    ...store,
    flush: () => store.flush(),
    prune: (before: number, limit: number) => {
      const n = store.prune(before, limit);
      calls.push(n);
      return n;
    },
  } as unknown as SqliteArchiveStore;
  const lines: string[] = [];
  const stop = schedulePruning(pruning, {
    expireAfterMs: 10,
    now: () => 30, // messages before t=20 expire
    batch: 8,
    intervalMs: 60_000,
    log: (line) => lines.push(line),
  });
  for (let i = 0; i < 10 && calls.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
  stop();
  assert.deepEqual(calls, [8, 8, 4]);
  assert.deepEqual(lines, ["message archive: 20 expired messages deleted"]);
  assert.equal(store.find("juliet", { max: 100 }).count, 5);
});
