// `verona adduser|passwd|deluser|users`: account administration on the database.
import { Accounts } from "../accounts/accounts.ts";
import type { Config } from "../config/config.ts";
import { parseJid } from "../jid/jid.ts";
import { SqliteAccountStore } from "../storage/account_store.ts";
import { SqliteRosterStore } from "../storage/roster_store.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { SqliteTombstoneStore } from "../storage/tombstone_store.ts";
import { CONFIG_FLAGS, configFromFlags, parseFlags, runCommand, UsageError } from "./_args.ts";

const COMMON = `Options:
  --config FILE   TOML configuration file
  --data DIR      data directory (default: ./data)
  --domain NAME   XMPP domain (default: localhost)
  -h, --help      show this help`;

const USAGES = {
  adduser:
    `Usage: verona adduser JID PASSWORD [options]\n\nCreates an account. JID is user@domain ` +
    `or just user.\nOnly SCRAM keys are stored, never the password. An administrator may reuse ` +
    `the name of a\nremoved account at once: the tombstone that blocks in-band registration ` +
    `is ignored.\n\n${COMMON}`,
  passwd: `Usage: verona passwd JID PASSWORD [options]\n\nSets a new password for an account.` +
    `\n\n${COMMON}`,
  deluser: `Usage: verona deluser JID [options]\n\nDeletes an account and everything stored ` +
    `for it (roster, vCard, private XML,\noffline messages, ...). The name stays reserved for ` +
    `in-band registration for\n[registration] tombstone_days (default 30).\n\n${COMMON}`,
  users: `Usage: verona users [options]\n\nLists the accounts.\n\n${COMMON}`,
} as const;

export type UserCommand = keyof typeof USAGES;

/** Runs one of the account commands. */
export function userCommand(command: UserCommand, args: string[]): Promise<number> {
  const usage = USAGES[command];
  return runCommand(usage, async () => {
    const { values, positionals } = parseFlags(args, CONFIG_FLAGS);
    if (values.help) {
      console.log(usage);
      return 0;
    }
    const want = command === "adduser" || command === "passwd" ? 2 : command === "deluser" ? 1 : 0;
    if (positionals.length !== want) {
      throw new UsageError(
        `expected ${want} argument${want === 1 ? "" : "s"}, got ${positionals.length}`,
      );
    }
    const config = await configFromFlags(values);
    using db = openDatabase(config.databasePath);
    const accounts = new Accounts(new SqliteAccountStore(db), {
      tombstones: new SqliteTombstoneStore(db),
      tombstoneDays: config.registration.tombstoneDays,
    });
    if (command === "users") {
      for (const name of accounts.list()) console.log(`${name}@${config.domain}`);
      return 0;
    }
    const username = localpartOf(positionals[0], config);
    switch (command) {
      case "adduser":
        await accounts.create(username, positionals[1]);
        console.log(`Created ${username}@${config.domain}`);
        return 0;
      case "passwd":
        await accounts.setPassword(username, positionals[1]);
        console.log(`Changed the password of ${username}@${config.domain}`);
        return 0;
      default:
        // No server runs here, so nobody can be told (in-band removal sends the presences:
        // lib/im/account_removal.ts). The account's rows go through the schema's cascades, and
        // local contacts' roster items for it are removed too: a later account of the same name
        // must not inherit their subscriptions.
        if (!accounts.remove(username)) {
          console.error(`error: no such user: ${username}@${config.domain}`);
          return 1;
        }
        new SqliteRosterStore(db).forgetContact(`${username}@${config.domain}`);
        console.log(`Deleted ${username}@${config.domain}`);
        return 0;
    }
  });
}

/** The prepared localpart of `user@domain` or `user`; a foreign domain is a usage error. */
export function localpartOf(text: string, config: Config): string {
  if (!text.includes("@")) return Accounts.prepUsername(text);
  let jid;
  try {
    jid = parseJid(text);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (jid.domain !== config.domain) {
    throw new UsageError(`${text} is not on this server's domain (${config.domain})`);
  }
  return jid.local;
}
