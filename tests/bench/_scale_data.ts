// Scale-benchmark data written straight into the server's database before it starts: tens of
// thousands of accounts and rosters of thousands of contacts (RFC 6121 §2), through the stores.
import { join } from "node:path";
import type { ScramCredentials } from "../../lib/sasl/credentials.ts";
import { deriveScramCredentials } from "../../lib/sasl/scram.ts";
import { SqliteAccountStore } from "../../lib/storage/account_store.ts";
import { type RosterStore, SqliteRosterStore } from "../../lib/storage/roster_store.ts";
import { openDatabase } from "../../lib/storage/sqlite.ts";
import { transaction } from "../../lib/storage/sql.ts";

/** A roster to create: `owner` and each of `contacts` subscribed both ways. */
export interface BenchRoster {
  owner: string;
  contacts: string[];
}

/**
 * Creates accounts `names` in `<dataDir>/verona.sqlite`, all with the keys of one password
 * derived once: one salt for all, which changes nothing of the server's work per login (the
 * server never derives keys at login) and saves 40,000 key derivations here. Then the rosters,
 * each pair on both sides with subscription "both" (usernames, contacts as local bare JIDs).
 */
export async function createScaleData(
  dataDir: string,
  options: { names: string[]; password: string; domain: string; rosters: BenchRoster[] },
): Promise<void> {
  const credentials: ScramCredentials[] = await Promise.all(
    (["SHA-256", "SHA-1"] as const).map((hash) =>
      deriveScramCredentials(options.password, { hash })
    ),
  );
  using db = openDatabase(join(dataDir, "verona.sqlite"));
  const accounts = new SqliteAccountStore(db);
  const rosters = new SqliteRosterStore(db);
  transaction(db, () => {
    for (const name of options.names) accounts.create(name, credentials);
    for (const { owner, contacts } of options.rosters) {
      for (const contact of contacts) {
        both(rosters, owner, `${contact}@${options.domain}`);
        both(rosters, contact, `${owner}@${options.domain}`);
      }
    }
  });
}

function both(store: RosterStore, username: string, contact: string): void {
  store.put(username, {
    jid: contact,
    subscription: "both",
    ask: false,
    approved: false,
    groups: [],
  });
}
