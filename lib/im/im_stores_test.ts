import { strict as assert } from "node:assert";
import { openDatabase } from "../storage/sqlite.ts";
import { SqliteBlocklistStore } from "./blocklist_store.ts";
import { SqliteOfflineStore } from "./offline_store.ts";
import { SqliteRosterStore } from "../storage/roster_store.ts";

function withUsers() {
  const db = openDatabase(":memory:");
  for (const user of ["romeo", "juliet"]) {
    db.prepare("INSERT INTO accounts (username, created_at) VALUES (?, 0)").run(user);
  }
  return db;
}

Deno.test("SqliteRosterStore keeps items, bumps the version on each change, keeps requests", () => {
  using db = withUsers();
  const store = new SqliteRosterStore(db);
  assert.deepEqual(store.items("romeo"), []);
  assert.equal(store.version("romeo"), 0);
  const item = {
    jid: "juliet@localhost",
    name: "Juliet",
    subscription: "to" as const,
    ask: false,
    approved: false,
    groups: ["Capulets", "Friends"],
  };
  assert.equal(store.put("romeo", item), 1);
  assert.equal(store.put("romeo", { ...item, name: undefined, ask: true, approved: true }), 2);
  assert.deepEqual(store.items("romeo"), [{
    jid: "juliet@localhost",
    subscription: "to",
    ask: true,
    approved: true,
    groups: ["Capulets", "Friends"],
  }]);
  assert.equal(store.version("juliet"), 0);
  assert.equal(store.remove("romeo", "nobody@localhost"), null);
  assert.equal(store.remove("romeo", "juliet@localhost"), 3);
  assert.deepEqual(store.items("romeo"), []);

  store.addPending("juliet", {
    contact: "romeo@localhost",
    stanza: "<presence type='subscribe'/>",
  });
  store.addPending("juliet", { contact: "paris@localhost", stanza: "<presence/>" });
  store.addPending("juliet", { contact: "romeo@localhost", stanza: "<presence id='2'/>" });
  assert.deepEqual(store.pending("juliet").map((r) => r.contact), [
    "romeo@localhost",
    "paris@localhost",
  ]);
  assert.equal(store.pending("juliet")[0].stanza, "<presence id='2'/>");
  assert.equal(store.removePending("juliet", "romeo@localhost"), true);
  assert.equal(store.removePending("juliet", "romeo@localhost"), false);
  assert.equal(store.pending("juliet").length, 1);
});

Deno.test("SqliteOfflineStore counts, and take() returns oldest first and empties", () => {
  using db = withUsers();
  const store = new SqliteOfflineStore(db);
  assert.equal(store.count("juliet"), 0);
  store.add("juliet", "<message id='1'/>");
  store.add("juliet", "<message id='2'/>");
  store.add("romeo", "<message id='3'/>");
  assert.equal(store.count("juliet"), 2);
  assert.deepEqual(store.take("juliet"), ["<message id='1'/>", "<message id='2'/>"]);
  assert.deepEqual(store.take("juliet"), []);
  assert.equal(store.count("romeo"), 1);
});

Deno.test("SqliteBlocklistStore adds once, removes some or all", () => {
  using db = withUsers();
  const store = new SqliteBlocklistStore(db);
  store.add("romeo", ["tybalt@localhost", "paris@localhost", "tybalt@localhost"]);
  assert.deepEqual(store.list("romeo"), ["paris@localhost", "tybalt@localhost"]);
  store.remove("romeo", ["paris@localhost"]);
  assert.deepEqual(store.list("romeo"), ["tybalt@localhost"]);
  store.remove("romeo");
  assert.deepEqual(store.list("romeo"), []);
});

Deno.test("SqliteRosterStore.forgetContact() removes a deleted account from every roster", () => {
  using db = withUsers();
  const store = new SqliteRosterStore(db);
  const item = { subscription: "both" as const, ask: false, approved: false, groups: [] };
  store.put("romeo", { ...item, jid: "mercutio@localhost" });
  store.put("romeo", { ...item, jid: "juliet@localhost" });
  store.put("juliet", { ...item, jid: "mercutio@localhost" });
  store.addPending("juliet", { contact: "mercutio@localhost", stanza: "<presence/>" });
  const before = store.version("romeo");
  assert.deepEqual(store.forgetContact("mercutio@localhost").sort(), ["juliet", "romeo"]);
  assert.deepEqual(store.items("romeo").map((i) => i.jid), ["juliet@localhost"]);
  assert.deepEqual(store.items("juliet"), []);
  assert.deepEqual(store.pending("juliet"), []);
  assert.equal(store.version("romeo"), before + 1);
  assert.deepEqual(store.forgetContact("nobody@localhost"), []);
});
