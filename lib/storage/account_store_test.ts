import { strict as assert } from "node:assert";
import { join } from "node:path";
import type { ScramCredentials } from "../sasl/credentials.ts";
import { openDatabase } from "./sqlite.ts";
import { SqliteAccountStore } from "./account_store.ts";

function creds(hash: "SHA-1" | "SHA-256", seed: number): ScramCredentials {
  return {
    hash,
    salt: new Uint8Array([seed, 1, 2, 3]),
    iterations: 4096 + seed,
    storedKey: new Uint8Array([seed, 4, 5]),
    serverKey: new Uint8Array([seed, 6, 7]),
  };
}

Deno.test("SqliteAccountStore creates, reads and lists accounts", () => {
  using db = openDatabase(":memory:");
  const store = new SqliteAccountStore(db);
  assert.equal(store.exists("juliet"), false);
  assert.deepEqual(store.list(), []);
  store.create("romeo", [creds("SHA-1", 1), creds("SHA-256", 2)]);
  store.create("juliet", [creds("SHA-256", 3)]);
  assert.equal(store.exists("juliet"), true);
  assert.deepEqual(store.list(), ["juliet", "romeo"]);
  assert.deepEqual(store.credentials("romeo", "SHA-1"), creds("SHA-1", 1));
  assert.deepEqual(store.credentials("romeo", "SHA-256"), creds("SHA-256", 2));
  assert.equal(store.credentials("juliet", "SHA-1"), null);
  assert.equal(store.credentials("nurse", "SHA-256"), null);
});

Deno.test("SqliteAccountStore.create() refuses an existing account", () => {
  using db = openDatabase(":memory:");
  const store = new SqliteAccountStore(db);
  store.create("juliet", [creds("SHA-256", 1)]);
  assert.throws(
    () => store.create("juliet", [creds("SHA-256", 2)]),
    { message: 'Cannot create account "juliet": it already exists' },
  );
  assert.deepEqual(store.credentials("juliet", "SHA-256"), creds("SHA-256", 1));
});

Deno.test("SqliteAccountStore.create() stores nothing when credentials are invalid", () => {
  using db = openDatabase(":memory:");
  const store = new SqliteAccountStore(db);
  assert.throws(
    () => store.create("juliet", [creds("SHA-256", 1), creds("SHA-256", 2)]),
    /SHA-256 given twice/,
  );
  assert.equal(store.exists("juliet"), false);
});

Deno.test("SqliteAccountStore.setCredentials() replaces all credentials", () => {
  using db = openDatabase(":memory:");
  const store = new SqliteAccountStore(db);
  store.create("juliet", [creds("SHA-1", 1), creds("SHA-256", 2)]);
  store.setCredentials("juliet", [creds("SHA-256", 9)]);
  assert.equal(store.credentials("juliet", "SHA-1"), null);
  assert.deepEqual(store.credentials("juliet", "SHA-256"), creds("SHA-256", 9));
  assert.throws(
    () => store.setCredentials("nurse", [creds("SHA-256", 1)]),
    { message: 'Cannot set credentials of account "nurse": no such account' },
  );
});

Deno.test("SqliteAccountStore.remove() deletes the account and its credentials", () => {
  using db = openDatabase(":memory:");
  const store = new SqliteAccountStore(db);
  store.create("juliet", [creds("SHA-256", 1)]);
  assert.equal(store.remove("juliet"), true);
  assert.equal(store.remove("juliet"), false);
  assert.equal(store.exists("juliet"), false);
  assert.equal(store.credentials("juliet", "SHA-256"), null);
  assert.equal(db.prepare("SELECT count(*) AS n FROM scram_credentials").get()?.n, 0);
  // The name is free again.
  store.create("juliet", [creds("SHA-1", 2)]);
  assert.deepEqual(store.credentials("juliet", "SHA-1"), creds("SHA-1", 2));
});

Deno.test("SqliteAccountStore persists across reopening the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "verona.sqlite");
    {
      using db = openDatabase(path);
      new SqliteAccountStore(db).create("juliet", [creds("SHA-256", 5)]);
    }
    using db = openDatabase(path);
    const store = new SqliteAccountStore(db);
    assert.deepEqual(store.list(), ["juliet"]);
    assert.deepEqual(store.credentials("juliet", "SHA-256"), creds("SHA-256", 5));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
