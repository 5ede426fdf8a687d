import { strict as assert } from "node:assert";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { migrate, migrateModule, moduleVersion, openDatabase, userVersion } from "./sqlite.ts";
import { SCHEMA_VERSION } from "./migrations.ts";

function tables(db: DatabaseSync): string[] {
  return db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all()
    .map((row) => String(row.name));
}

Deno.test("openDatabase() creates parent directories and the current schema", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "nested", "deeper", "verona.sqlite");
    {
      using db = openDatabase(path);
      assert.equal(userVersion(db), SCHEMA_VERSION);
      assert.deepEqual(tables(db).filter((name) => name !== "sqlite_sequence"), [
        "account_tombstones",
        "accounts",
        "blocklist",
        "last_activity",
        "module_schema",
        "muc_affiliations",
        "muc_history",
        "muc_rooms",
        "offline_messages",
        "private_storage",
        "roster_items",
        "roster_versions",
        "scram_credentials",
        "subscription_requests",
        "vcards",
      ]);
      assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
      assert.equal(db.prepare("PRAGMA foreign_keys").get()?.foreign_keys, 1);
      assert.equal(db.prepare("PRAGMA synchronous").get()?.synchronous, 1, "NORMAL");
      assert.ok(Number(db.prepare("PRAGMA busy_timeout").get()?.timeout) > 0);
      db.prepare("INSERT INTO accounts VALUES ('juliet', 1)").run();
    }
    assert.ok((await Deno.stat(path)).isFile);
    // Reopening keeps the data and does not rerun migrations.
    using again = openDatabase(path);
    assert.equal(userVersion(again), SCHEMA_VERSION);
    assert.equal(again.prepare("SELECT count(*) AS n FROM accounts").get()?.n, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openDatabase() accepts :memory:", () => {
  using db = openDatabase(":memory:");
  assert.equal(userVersion(db), SCHEMA_VERSION);
  assert.equal(db.prepare("PRAGMA foreign_keys").get()?.foreign_keys, 1);
});

Deno.test("migrate() applies only pending steps and records each", () => {
  using db = new DatabaseSync(":memory:");
  const steps = ["CREATE TABLE a (x)", "CREATE TABLE b (y)"];
  assert.equal(migrate(db, steps.slice(0, 1)), 1);
  assert.deepEqual(tables(db), ["a"]);
  assert.equal(migrate(db, steps), 2);
  assert.deepEqual(tables(db), ["a", "b"]);
  assert.equal(migrate(db, steps), 2);
  assert.equal(userVersion(db), 2);
});

Deno.test("migrate() rolls a failing step back and names the version", () => {
  using db = new DatabaseSync(":memory:");
  const steps = ["CREATE TABLE a (x)", "CREATE TABLE b (y); CREATE TABLE a (z)"];
  assert.throws(() => migrate(db, steps), /Cannot migrate database to schema version 2: /);
  assert.equal(userVersion(db), 1);
  assert.deepEqual(tables(db), ["a"]);
  assert.equal(db.isTransaction, false);
});

Deno.test("openDatabase() refuses a database from a newer build", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "future.sqlite");
    {
      using db = new DatabaseSync(path);
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    }
    assert.throws(
      () => openDatabase(path),
      new RegExp(`Cannot open database ".*future.sqlite": .*schema version ${SCHEMA_VERSION + 1}`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openDatabase() names the path when it cannot open it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A directory where the file should be.
    const path = join(dir, "db");
    await Deno.mkdir(path);
    assert.throws(() => openDatabase(path), /^Error: Cannot open database ".*db": /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("migrateModule() applies a module's steps once each and records them per module", () => {
  using db = openDatabase(":memory:");
  const steps = [
    "CREATE TABLE mam_archive (id INTEGER PRIMARY KEY, xml TEXT NOT NULL)",
    "ALTER TABLE mam_archive ADD COLUMN stamp INTEGER",
  ];
  assert.equal(moduleVersion(db, "mam"), 0);
  assert.equal(migrateModule(db, "mam", steps.slice(0, 1)), 1);
  assert.equal(migrateModule(db, "mam", steps), 2);
  assert.equal(migrateModule(db, "mam", steps), 2, "nothing runs twice");
  assert.equal(moduleVersion(db, "mam"), 2);
  assert.equal(moduleVersion(db, "pep"), 0, "versions are per module");
  db.prepare("INSERT INTO mam_archive (xml, stamp) VALUES ('<message/>', 1)").run();
  assert.throws(
    () => migrateModule(db, "mam", steps.slice(0, 1)),
    /Cannot migrate module "mam": its schema version 2 is newer than this build supports \(1\)/,
  );
  // A failing step leaves neither its changes nor a new version behind.
  assert.throws(
    () =>
      migrateModule(db, "pep", [
        "CREATE TABLE pep_nodes (id INTEGER); SELECT nonsense FROM nowhere",
      ]),
    /Cannot migrate module "pep" to schema version 1/,
  );
  assert.equal(moduleVersion(db, "pep"), 0);
  assert.ok(!tables(db).includes("pep_nodes"));
});
