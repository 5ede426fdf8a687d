import { strict as assert } from "node:assert";
import { join } from "node:path";
import { openDatabase } from "./sqlite.ts";
import { MemoryRoomStore, type RoomStore, SqliteRoomStore, type StoredRoom } from "./room_store.ts";

function coven(): StoredRoom {
  return {
    jid: "coven@conference.shakespeare.lit",
    config: { name: "The Coven", persistent: true, maxUsers: 20, tags: ["a", "b"] },
    passwordHash: "pbkdf2-sha256$1$AAAA$BBBB",
    subject: "Fire Burn and Cauldron Bubble!",
    subjectFrom: "coven@conference.shakespeare.lit/secondwitch",
    affiliations: [
      { jid: "crone1@shakespeare.lit", affiliation: "owner" },
      { jid: "wiccarocks@shakespeare.lit", affiliation: "admin", reason: "helps" },
      { jid: "hag66@shakespeare.lit", affiliation: "member", nick: "thirdwitch" },
      { jid: "macbeth@shakespeare.lit", affiliation: "outcast", nick: "m", reason: "Treason" },
    ],
  };
}

function darkcave(): StoredRoom {
  return {
    jid: "darkcave@conference.shakespeare.lit",
    config: {},
    passwordHash: null,
    subject: null,
    subjectFrom: null,
    affiliations: [],
  };
}

// Both backends must behave the same, so the same checks run on each.
const backends: [string, () => { store: RoomStore } & Disposable][] = [
  ["SqliteRoomStore", () => {
    const db = openDatabase(":memory:");
    return { store: new SqliteRoomStore(db), [Symbol.dispose]: () => db.close() };
  }],
  ["MemoryRoomStore", () => ({ store: new MemoryRoomStore(), [Symbol.dispose]: () => {} })],
];

for (const [name, open] of backends) {
  Deno.test(`${name} keeps history per room, newest last, trims and drops it with the room`, () => {
    using handle = open();
    const { store } = handle;
    assert.throws(() => store.appendHistory(coven().jid, { nick: "a", stanza: "<m/>", stamp: 1 }));
    store.save(coven());
    store.save(darkcave());
    for (let i = 1; i <= 5; i++) {
      store.appendHistory(coven().jid, { nick: `n${i}`, stanza: `<message id='${i}'/>`, stamp: i });
    }
    store.appendHistory(darkcave().jid, { nick: "x", stanza: "<message/>", stamp: 9 });
    assert.deepEqual(store.loadHistory(coven().jid, 2), [
      { nick: "n4", stanza: "<message id='4'/>", stamp: 4 },
      { nick: "n5", stanza: "<message id='5'/>", stamp: 5 },
    ]);
    assert.equal(store.loadHistory(coven().jid, 0).length, 0);
    store.trimHistory(coven().jid, 3);
    assert.deepEqual(store.loadHistory(coven().jid, 10).map((e) => e.nick), ["n3", "n4", "n5"]);
    store.save(coven()); // saving the room again keeps its history
    assert.equal(store.loadHistory(coven().jid, 10).length, 3);
    store.remove(coven().jid);
    assert.deepEqual(store.loadHistory(coven().jid, 10), []);
    assert.equal(store.loadHistory(darkcave().jid, 10).length, 1);
  });

  Deno.test(`${name} saves and loads a room with affiliations in order`, () => {
    using handle = open();
    const { store } = handle;
    assert.equal(store.load(coven().jid), null);
    store.save(coven());
    assert.deepEqual(store.load(coven().jid), coven());
    assert.equal(store.load("nowhere@conference.shakespeare.lit"), null);
  });

  Deno.test(`${name}.loadAll() returns every room sorted by JID`, () => {
    using handle = open();
    const { store } = handle;
    assert.deepEqual(store.loadAll(), []);
    store.save(darkcave());
    store.save(coven());
    assert.deepEqual(store.loadAll(), [coven(), darkcave()]);
  });

  Deno.test(`${name}.save() updates the room and replaces its affiliations`, () => {
    using handle = open();
    const { store } = handle;
    store.save(coven());
    const changed = coven();
    changed.config = { name: "Renamed" };
    changed.passwordHash = null;
    changed.subject = null;
    changed.subjectFrom = null;
    changed.affiliations = [{ jid: "hag66@shakespeare.lit", affiliation: "owner" }];
    store.save(changed);
    assert.deepEqual(store.load(changed.jid), changed);
    assert.equal(store.loadAll().length, 1);
  });

  Deno.test(`${name}.remove() deletes the room and its affiliations`, () => {
    using handle = open();
    const { store } = handle;
    store.save(coven());
    store.save(darkcave());
    store.remove(coven().jid);
    store.remove("nowhere@conference.shakespeare.lit");
    assert.equal(store.load(coven().jid), null);
    assert.deepEqual(store.loadAll(), [darkcave()]);
    store.save({ ...coven(), affiliations: [] });
    assert.deepEqual(store.load(coven().jid)?.affiliations, []);
  });

  Deno.test(`${name} hands out copies, not its own objects`, () => {
    using handle = open();
    const { store } = handle;
    const room = coven();
    store.save(room);
    room.affiliations.pop();
    (room.config.tags as string[]).push("c");
    const loaded = store.load(room.jid)!;
    assert.deepEqual(loaded, coven());
    loaded.affiliations.length = 0;
    loaded.config.name = "Changed";
    assert.deepEqual(store.load(room.jid), coven());
    store.loadAll()[0].subject = "Changed";
    assert.deepEqual(store.loadAll(), [coven()]);
  });

  Deno.test(`${name}.save() rejects bad affiliations and keeps the old state`, () => {
    using handle = open();
    const { store } = handle;
    store.save(coven());
    const twice = coven();
    twice.affiliations.push({ jid: "crone1@shakespeare.lit", affiliation: "member" });
    assert.throws(() => store.save(twice), /"crone1@shakespeare.lit" is affiliated twice/);
    const unknown = coven();
    unknown.affiliations = [{ jid: "a@b", affiliation: "none" as "member" }];
    assert.throws(() => store.save(unknown), /unknown affiliation "none"/);
    assert.deepEqual(store.load(coven().jid), coven());
  });
}

Deno.test("SqliteRoomStore keeps rooms across reopening and keeps created_at on update", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "verona.sqlite");
    {
      using db = openDatabase(path);
      const store = new SqliteRoomStore(db);
      store.save(coven());
      db.prepare("UPDATE muc_rooms SET created_at = 1, updated_at = 1").run();
      store.save({ ...coven(), subject: "New" });
      const row = db.prepare("SELECT created_at, updated_at FROM muc_rooms").get();
      assert.equal(row?.created_at, 1);
      assert.ok(Number(row?.updated_at) > 1);
    }
    using db = openDatabase(path);
    assert.deepEqual(new SqliteRoomStore(db).loadAll(), [{ ...coven(), subject: "New" }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
