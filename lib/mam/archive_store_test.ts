import { strict as assert } from "node:assert";
import { migrateModule, openDatabase } from "../storage/sqlite.ts";
import {
  MAM_MIGRATIONS,
  MAX_PENDING_ROWS,
  SqliteArchiveStore,
  UnknownArchiveId,
} from "./archive_store.ts";

/** A store with `n` messages for juliet, one a second from t=1000 s, alternately with romeo and nurse. */
function archive(n: number, countLimit?: number) {
  const db = openDatabase(":memory:");
  migrateModule(db, "mam", MAM_MIGRATIONS);
  for (const name of ["juliet", "romeo"]) {
    db.prepare("INSERT INTO accounts (username, created_at) VALUES (?, 0)").run(name);
  }
  let next = 0;
  const store = new SqliteArchiveStore(db, { newId: () => `m${next++}`, countLimit });
  for (let i = 0; i < n; i++) {
    store.append("juliet", {
      with: i % 2 === 0 ? "romeo@localhost" : "nurse@localhost",
      withResource: i % 4 === 0 ? "orchard" : "",
      direction: i % 3 === 0 ? "out" : "in",
      stanza: `<message xmlns='jabber:client'><body>${i}</body></message>`,
      time: 1_000_000 + i * 1000,
    });
  }
  return { db, store };
}

const ids = (page: { items: { id: string }[] }) => page.items.map((item) => item.id);

Deno.test("SqliteArchiveStore.find() on an empty archive: no items, count 0, complete", () => {
  const { db, store } = archive(0);
  assert.deepEqual(store.find("juliet", { max: 10 }), {
    items: [],
    count: 0,
    index: 0,
    complete: true,
  });
  assert.deepEqual(ids(store.find("juliet", { max: 10, before: "" })), []);
  assert.equal(store.find("juliet", { max: 10, before: "" }).complete, true);
  assert.equal(store.bounds("juliet"), null);
  assert.throws(() => store.find("juliet", { max: 10, after: "m0" }), UnknownArchiveId);
  db.close();
});

Deno.test("SqliteArchiveStore.find() pages forwards: exact page boundaries and the complete flag", () => {
  const { db, store } = archive(10);
  const first = store.find("juliet", { max: 5 });
  assert.deepEqual(ids(first), ["m0", "m1", "m2", "m3", "m4"]);
  assert.equal(first.count, 10);
  assert.equal(first.index, 0);
  assert.equal(first.complete, false);
  const second = store.find("juliet", { max: 5, after: "m4" });
  assert.deepEqual(ids(second), ["m5", "m6", "m7", "m8", "m9"]);
  assert.equal(second.index, 5);
  // Exactly the rest: complete, though the page is full.
  assert.equal(second.complete, true);
  const past = store.find("juliet", { max: 5, after: "m9" });
  assert.deepEqual(ids(past), []);
  assert.equal(past.complete, true);
  assert.equal(past.count, 10);
  assert.equal(store.find("juliet", { max: 10 }).complete, true);
  assert.equal(store.find("juliet", { max: 9 }).complete, false);
  db.close();
});

Deno.test("SqliteArchiveStore.find() pages backwards: empty <before/> is the last page", () => {
  const { db, store } = archive(10);
  const last = store.find("juliet", { max: 3, before: "" });
  assert.deepEqual(ids(last), ["m7", "m8", "m9"]);
  assert.equal(last.index, 7);
  assert.equal(last.complete, false);
  const previous = store.find("juliet", { max: 3, before: "m7" });
  assert.deepEqual(ids(previous), ["m4", "m5", "m6"]);
  assert.equal(previous.index, 4);
  const start = store.find("juliet", { max: 4, before: "m4" });
  assert.deepEqual(ids(start), ["m0", "m1", "m2", "m3"]);
  assert.equal(start.index, 0);
  assert.equal(start.complete, true);
  assert.throws(() => store.find("juliet", { max: 3, before: "nope" }), UnknownArchiveId);
  db.close();
});

Deno.test("SqliteArchiveStore.find() filters by with (bare and full JID), time and ids", () => {
  const { db, store } = archive(10);
  const romeo = store.find("juliet", { max: 10, with: { bare: "romeo@localhost" } });
  assert.deepEqual(ids(romeo), ["m0", "m2", "m4", "m6", "m8"]);
  assert.equal(romeo.count, 5);
  const orchard = store.find("juliet", {
    max: 10,
    with: { bare: "romeo@localhost", resource: "orchard" },
  });
  assert.deepEqual(ids(orchard), ["m0", "m4", "m8"]);
  const paged = store.find("juliet", { max: 2, with: { bare: "romeo@localhost" }, after: "m2" });
  assert.deepEqual(ids(paged), ["m4", "m6"]);
  assert.equal(paged.index, 2);
  assert.equal(paged.complete, false);
  // start and end are inclusive.
  const range = store.find("juliet", { max: 10, start: 1_002_000, end: 1_004_000 });
  assert.deepEqual(ids(range), ["m2", "m3", "m4"]);
  assert.equal(range.count, 3);
  assert.deepEqual(ids(store.find("juliet", { max: 10, ids: ["m7", "m3"] })), ["m3", "m7"]);
  assert.throws(() => store.find("juliet", { max: 10, ids: ["m3", "zz"] }), UnknownArchiveId);
  // Another account's archive is another archive.
  assert.deepEqual(ids(store.find("romeo", { max: 10 })), []);
  assert.throws(() => store.find("romeo", { max: 10, after: "m1" }), UnknownArchiveId);
  db.close();
});

Deno.test("SqliteArchiveStore.find(): after-id and before-id bound the result set, count included", () => {
  const { db, store } = archive(10);
  const between = store.find("juliet", { max: 10, afterId: "m2", beforeId: "m7" });
  assert.deepEqual(ids(between), ["m3", "m4", "m5", "m6"]);
  assert.equal(between.count, 4);
  assert.equal(between.complete, true);
  const last = store.find("juliet", { max: 2, afterId: "m2", before: "" });
  assert.deepEqual(ids(last), ["m8", "m9"]);
  assert.equal(last.index, 5);
  assert.equal(last.count, 7);
  assert.throws(() => store.find("juliet", { max: 10, afterId: "x" }), UnknownArchiveId);
  db.close();
});

Deno.test("SqliteArchiveStore.find(): max 0 counts, index starts a page", () => {
  const { db, store } = archive(10);
  const counted = store.find("juliet", { max: 0 });
  assert.deepEqual(ids(counted), []);
  assert.equal(counted.count, 10);
  assert.equal(counted.complete, false);
  const at = store.find("juliet", { max: 3, index: 4 });
  assert.deepEqual(ids(at), ["m4", "m5", "m6"]);
  assert.equal(at.index, 4);
  assert.deepEqual(ids(store.find("juliet", { max: 3, index: 20 })), []);
  db.close();
});

Deno.test("SqliteArchiveStore keeps seq order when the clock steps back, and prunes oldest first", () => {
  const { db, store } = archive(0);
  const a = store.append("juliet", {
    with: "romeo@localhost",
    direction: "in",
    stanza: "<a/>",
    time: 5000,
  });
  const b = store.append("juliet", {
    with: "romeo@localhost",
    direction: "in",
    stanza: "<b/>",
    time: 3000,
  });
  const c = store.append("juliet", {
    with: "romeo@localhost",
    direction: "in",
    stanza: "<c/>",
    time: 9000,
  });
  assert.deepEqual(ids(store.find("juliet", { max: 10 })), [a, b, c]);
  assert.deepEqual(store.find("juliet", { max: 10 }).items.map((i) => i.time), [5000, 5000, 9000]);
  assert.equal(store.prune(6000, 1), 1);
  assert.equal(store.prune(6000, 10), 1);
  assert.equal(store.prune(6000, 10), 0);
  assert.deepEqual(ids(store.find("juliet", { max: 10 })), [c]);
  // A store opened later continues from the latest time.
  const again = new SqliteArchiveStore(db);
  again.append("juliet", { with: "romeo@localhost", direction: "in", stanza: "<d/>", time: 1 });
  again.flush();
  assert.deepEqual(store.find("juliet", { max: 10 }).items.map((i) => i.time), [9000, 9000]);
  db.close();
});

Deno.test("SqliteArchiveStore: archives and preferences go with the account", () => {
  const { db, store } = archive(3);
  store.setPrefs("juliet", { default: "roster", always: ["romeo@localhost"], never: [] });
  assert.deepEqual(store.prefs("juliet"), {
    default: "roster",
    always: ["romeo@localhost"],
    never: [],
  });
  db.prepare("DELETE FROM accounts WHERE username = ?").run("juliet");
  assert.equal(store.find("juliet", { max: 10 }).count, 0);
  assert.equal(store.prefs("juliet"), null);
  db.close();
});

Deno.test("SqliteArchiveStore.find() leaves out count and index past countLimit", () => {
  const { db, store } = archive(10, 5);
  const last = store.find("juliet", { max: 2, before: "" });
  assert.deepEqual(ids(last), ["m8", "m9"]);
  assert.equal(last.count, undefined);
  assert.equal(last.index, undefined);
  // The first page's index is known without counting; a small result set is counted.
  assert.equal(store.find("juliet", { max: 2 }).index, 0);
  const few = store.find("juliet", {
    max: 2,
    with: { bare: "romeo@localhost", resource: "orchard" },
  });
  assert.equal(few.count, 3);
  const after = store.find("juliet", { max: 2, after: "m1" });
  assert.equal(after.index, 2);
  assert.equal(store.find("juliet", { max: 2, after: "m7" }).index, undefined);
  assert.equal(store.find("juliet", { max: 0 }).complete, false);
  db.close();
});

Deno.test("SqliteArchiveStore: appends write the queue themselves past MAX_PENDING_ROWS", () => {
  const { db, store } = archive(0);
  const rows = () => Number(db.prepare("SELECT count(*) AS n FROM mam_archive").get()!.n);
  const append = (i: number) =>
    store.append("juliet", {
      with: "romeo@localhost",
      direction: "in",
      stanza: `<message xmlns='jabber:client'><body>${i}</body></message>`,
      time: 1_000_000 + i,
    });
  for (let i = 0; i < MAX_PENDING_ROWS - 1; i++) append(i);
  assert.equal(rows(), 0, "below the bound, the background flush writes them");
  append(MAX_PENDING_ROWS - 1);
  assert.equal(rows(), MAX_PENDING_ROWS, "at the bound, the append wrote the queue");
  append(MAX_PENDING_ROWS);
  store.flush();
  assert.equal(rows(), MAX_PENDING_ROWS + 1);
  db.close();
});
