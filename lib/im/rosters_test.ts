import { strict as assert } from "node:assert";
import { Router } from "../router/router.ts";
import { recordingSession } from "../router/testing.ts";
import { SqliteRosterStore, type StoredRosterItem } from "../storage/roster_store.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { Rosters } from "./rosters.ts";

const item = (jid: string): StoredRosterItem => ({
  jid,
  subscription: "both",
  ask: false,
  approved: false,
  groups: ["friends"],
});

/** A store that counts whole-roster reads. */
class CountingStore extends SqliteRosterStore {
  wholeReads = 0;

  override items(username: string): StoredRosterItem[] {
    this.wholeReads++;
    return super.items(username);
  }
}

/** Juliet with a roster of 50 contacts, and no session. */
function setUp() {
  const db = openDatabase(":memory:");
  db.prepare("INSERT INTO accounts (username, created_at) VALUES ('juliet', 0)").run();
  const store = new CountingStore(db);
  for (let i = 0; i < 50; i++) store.put("juliet", item(`contact${i}@localhost`));
  const router = new Router({ domain: "localhost", accountExists: () => true, log: () => {} });
  const rosters = new Rosters(store, router);
  return { db, store, router, rosters, [Symbol.dispose]: () => db.close() };
}

Deno.test("SqliteRosterStore.item() reads one item, or undefined", () => {
  using db = openDatabase(":memory:");
  db.prepare("INSERT INTO accounts (username, created_at) VALUES ('juliet', 0)").run();
  const store = new SqliteRosterStore(db);
  store.put("juliet", { ...item("romeo@localhost"), name: "Romeo" });
  assert.deepEqual(store.item("juliet", "romeo@localhost"), {
    ...item("romeo@localhost"),
    name: "Romeo",
  });
  assert.equal(store.item("juliet", "tybalt@localhost"), undefined);
  assert.equal(store.item("nobody", "romeo@localhost"), undefined);
});

Deno.test("Rosters.item() of a user without sessions reads one row, not the whole roster", () => {
  using setup = setUp();
  const { rosters, store } = setup;
  // What every contact's login does to an offline user: a probe and a presence, each asking
  // for one item. Reading the whole roster each time made that O(roster size) per login.
  for (let i = 0; i < 50; i++) {
    assert.equal(rosters.item("juliet", `contact${i}@localhost`)?.subscription, "both");
  }
  assert.equal(rosters.item("juliet", "tybalt@localhost"), undefined);
  assert.equal(store.wholeReads, 0);
});

Deno.test("Rosters.item() of a user with a session reads the roster once and caches it", () => {
  using setup = setUp();
  const { router, rosters, store } = setup;
  router.bind(recordingSession("juliet@localhost/balcony").session);
  assert.equal(rosters.item("juliet", "contact1@localhost")?.subscription, "both");
  assert.equal(rosters.item("juliet", "contact2@localhost")?.groups[0], "friends");
  assert.equal(rosters.item("juliet", "tybalt@localhost"), undefined);
  assert.equal(store.wholeReads, 1);
});

Deno.test("Rosters.item() of a user without sessions sees a change made meanwhile", () => {
  using setup = setUp();
  const { store, rosters } = setup;
  assert.equal(rosters.item("juliet", "contact1@localhost")?.subscription, "both");
  store.put("juliet", { ...item("contact1@localhost"), subscription: "to" });
  assert.equal(rosters.item("juliet", "contact1@localhost")?.subscription, "to");
});
