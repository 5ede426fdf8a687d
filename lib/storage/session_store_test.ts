import { strict as assert } from "node:assert";
import { SqliteAccountStore } from "./account_store.ts";
import { SqliteSessionStore } from "./session_store.ts";
import { openDatabase } from "./sqlite.ts";

Deno.test("SqliteSessionStore forgets a session only for the stream that bound it", () => {
  using db = openDatabase(":memory:");
  new SqliteAccountStore(db).create("romeo", []);
  const store = new SqliteSessionStore(db);
  store.bound("romeo", { jid: "romeo@localhost/a", streamId: "c2s1", boundAt: 1 });
  // A new stream takes over the resource; the old one ending must not erase it.
  store.bound("romeo", { jid: "romeo@localhost/a", streamId: "c2s2", boundAt: 2 });
  store.ended("romeo@localhost/a", "c2s1");
  assert.deepEqual(store.of("romeo"), [{ jid: "romeo@localhost/a", streamId: "c2s2", boundAt: 2 }]);
  store.bound("romeo", { jid: "romeo@localhost/b", streamId: "c2s3", boundAt: 3 });
  store.ended("romeo@localhost/a", "c2s2");
  assert.deepEqual(store.of("romeo").map((s) => s.jid), ["romeo@localhost/b"]);
  store.clear();
  assert.deepEqual(store.of("romeo"), []);
});
