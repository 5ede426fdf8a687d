import { strict as assert } from "node:assert";
import { SqliteAccountStore } from "../storage/account_store.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { SqliteTombstoneStore } from "../storage/tombstone_store.ts";
import { AccountError, Accounts } from "./accounts.ts";

const DAY = 24 * 60 * 60 * 1000;

function rejectsWith(reason: string) {
  return (error: unknown) => error instanceof AccountError && error.reason === reason;
}

Deno.test("Accounts.register() refuses a name removed less than tombstoneDays ago", async () => {
  using db = openDatabase(":memory:");
  let now = 10 * DAY;
  const accounts = new Accounts(new SqliteAccountStore(db), {
    tombstones: new SqliteTombstoneStore(db),
    tombstoneDays: 30,
    now: () => now,
  });
  await accounts.register("Tybalt", "pw");
  await assert.rejects(accounts.register("tybalt", "pw"), rejectsWith("exists"));
  assert.equal(accounts.remove("tybalt"), true);
  assert.equal(accounts.reservedUntil("tybalt"), 40 * DAY);
  await assert.rejects(accounts.register("tybalt", "pw"), rejectsWith("reserved"));
  now = 40 * DAY + 1;
  await accounts.register("tybalt", "pw");
  assert.ok(accounts.exists("tybalt"));
});

Deno.test("Accounts.create() ignores tombstones; tombstoneDays 0 writes none", async () => {
  using db = openDatabase(":memory:");
  const tombstones = new SqliteTombstoneStore(db);
  const reserving = new Accounts(new SqliteAccountStore(db), { tombstones, tombstoneDays: 30 });
  await reserving.create("romeo", "pw");
  reserving.remove("romeo");
  await reserving.create("romeo", "pw");
  const forgetting = new Accounts(new SqliteAccountStore(db), { tombstones, tombstoneDays: 0 });
  await forgetting.create("paris", "pw");
  forgetting.remove("paris");
  assert.equal(tombstones.removedAt("paris"), null);
  await forgetting.register("paris", "pw");
});

Deno.test("Accounts errors carry a reason", async () => {
  using db = openDatabase(":memory:");
  const accounts = new Accounts(new SqliteAccountStore(db));
  await assert.rejects(accounts.create("a@b", "pw"), rejectsWith("invalid-username"));
  await assert.rejects(accounts.create("romeo", ""), rejectsWith("invalid-password"));
  await assert.rejects(accounts.setPassword("nobody", "pw"), rejectsWith("no-such-user"));
});
