// Bench accounts, created straight in the server's database before it starts.
import { join } from "node:path";
import { Accounts } from "../../lib/accounts/accounts.ts";
import { SqliteAccountStore } from "../../lib/storage/account_store.ts";
import { openDatabase } from "../../lib/storage/sqlite.ts";

/** Creates accounts `<prefix>1..<prefix>N` in `<dataDir>/verona.sqlite`, then closes it. */
export async function createAccounts(
  dataDir: string,
  prefix: string,
  count: number,
  password: string,
): Promise<void> {
  using db = openDatabase(join(dataDir, "verona.sqlite"));
  const accounts = new Accounts(new SqliteAccountStore(db));
  const batch = 16; // key derivation runs off the main thread: a few at once use both cores
  for (let i = 1; i <= count; i += batch) {
    const names = [];
    for (let j = i; j < Math.min(i + batch, count + 1); j++) names.push(`${prefix}${j}`);
    await Promise.all(names.map((name) => accounts.create(name, password)));
  }
}
