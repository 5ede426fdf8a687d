import { strict as assert } from "node:assert";
import { join } from "node:path";
import { testDatabase } from "./_test_db.ts";
import { scheduleSweep, sweep } from "./expiry.ts";
import { FileStore, newId } from "./files.ts";
import { UploadStore } from "./upload_store.ts";

async function fixture() {
  const dir = await Deno.makeTempDir({ prefix: "verona-sweep-test-" });
  const db = testDatabase(["romeo", "juliet"]);
  const store = new UploadStore(db);
  const files = await FileStore.open(join(dir, "uploads"));
  /** A slot of `username`, uploaded (with its file) when `expiresAt` is given. */
  const add = async (username: string, slotExpiresAt: number, expiresAt?: number | null) => {
    const id = newId();
    store.add({
      id,
      username,
      filename: "f.txt",
      size: 3,
      contentType: null,
      tokenHash: "",
      createdAt: 0,
      slotExpiresAt,
    });
    if (expiresAt !== undefined) {
      await Deno.writeFile(join(files.dir, id), new Uint8Array(3));
      store.complete(id, 0, expiresAt);
    }
    return id;
  };
  const onDisk = async () => (await files.ids()).map((f) => f.id).sort();
  return {
    db,
    store,
    files,
    add,
    onDisk,
    async [Symbol.asyncDispose]() {
      db.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("sweep() removes expired files, unused slots, orphans and stray files, nothing else", async () => {
  await using f = await fixture();
  const now = 10_000;
  const expired = await f.add("romeo", 1000, 9_000);
  const kept = await f.add("romeo", 1000, 11_000);
  const forever = await f.add("romeo", 1000, null);
  const unused = await f.add("romeo", 9_999);
  const pending = await f.add("romeo", 10_001);
  const busy = await f.add("romeo", 5_000); // its PUT is streaming past the slot's time
  const juliets = await f.add("juliet", 1000, null);
  const stray = newId();
  await Deno.writeFile(join(f.files.dir, stray), new Uint8Array(1));
  const young = newId();
  await Deno.writeFile(join(f.files.dir, young + ".part"), new Uint8Array(1));
  // Juliet's account went while the server was down (no onRemoved for her).
  f.db.prepare("DELETE FROM accounts WHERE username = 'juliet'").run();

  const removed = await sweep({
    store: f.store,
    files: f.files,
    now: () => now,
    busy: (id) => id === busy,
    log: () => {},
  });
  assert.equal(removed, 3); // expired, unused, juliet's
  for (const id of [expired, unused, juliets]) assert.equal(f.store.get(id), undefined);
  for (const id of [kept, forever, pending, busy]) assert.ok(f.store.get(id), id);
  assert.deepEqual(await f.onDisk(), [kept, forever, young].sort());
});

Deno.test("scheduleSweep() runs at once and then on its interval, until stopped", async () => {
  await using f = await fixture();
  let now = 0;
  const id = await f.add("romeo", 100, 500);
  const stop = scheduleSweep({
    store: f.store,
    files: f.files,
    intervalMs: 30,
    now: () => now,
    log: () => {},
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(f.store.get(id), "not expired yet");
    now = 600;
    const deadline = Date.now() + 2000;
    while (f.store.get(id) !== undefined) {
      assert.ok(Date.now() < deadline, "swept on a later run");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.deepEqual(await f.onDisk(), []);
  } finally {
    stop();
  }
});
