import { strict as assert } from "node:assert";
import { StatementCachingDatabase } from "./statement_cache.ts";

Deno.test("StatementCachingDatabase: one statement per text, reused, the oldest dropped past capacity", () => {
  using db = new StatementCachingDatabase(":memory:", 2);
  db.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)");
  const insert = db.prepare("INSERT INTO t VALUES (?, ?)");
  assert.equal(db.prepare("INSERT INTO t VALUES (?, ?)"), insert);
  insert.run("a", 1);
  db.prepare("INSERT INTO t VALUES (?, ?)").run("b", 2);
  const select = "SELECT v FROM t WHERE k = ?";
  assert.deepEqual({ ...db.prepare(select).get("a") }, { v: 1 });
  assert.deepEqual(
    { ...db.prepare(select).get("b") },
    { v: 2 },
    "a reused statement takes new values",
  );
  db.prepare("SELECT count(*) AS n FROM t");
  assert.equal(db.cachedStatements, 2);
  assert.notEqual(db.prepare("INSERT INTO t VALUES (?, ?)"), insert, "the oldest was dropped");
});
