// `verona user show JID`: what the server holds about one account, for an administrator.
import type { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import type { LiveSession } from "../admin/admin_commands.ts";
import { ADMIN_SOCKET_NAME, askServer } from "../admin/admin_socket.ts";
import type { Config } from "../config/config.ts";
import { SqliteAccountFacts } from "../storage/account_facts.ts";
import { SqliteLastActivityStore } from "../storage/last_activity_store.ts";
import { SqlitePrivateStore } from "../storage/private_store.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { SqliteVcardStore } from "../storage/vcard_store.ts";
import { CONFIG_FLAGS, configFromFlags, parseFlags, runCommand, UsageError } from "./_args.ts";
import { localpartOf } from "./users.ts";

export const USER_SHOW_USAGE = `Usage: verona user show JID [options]

Shows one account: when it was created, its roster and offline-message counts,
whether it has a vCard and private XML, its last logout, and its sessions.
JID is user@domain or just user. Sessions are asked of the running server
through its admin socket in the data directory; with no server running there
are none.

Options:
  --config FILE   TOML configuration file
  --data DIR      data directory (default: ./data)
  --domain NAME   XMPP domain (default: localhost)
  -h, --help      show this help`;

/** Runs `verona user <subcommand>`; `show` is the only one. */
export function userShowCommand(args: string[]): Promise<number> {
  return runCommand(USER_SHOW_USAGE, async () => {
    const { values, positionals } = parseFlags(args, CONFIG_FLAGS);
    if (values.help) {
      console.log(USER_SHOW_USAGE);
      return 0;
    }
    const [subcommand, ...rest] = positionals;
    if (subcommand !== "show") {
      throw new UsageError(
        subcommand === undefined ? "missing subcommand" : `unknown subcommand "${subcommand}"`,
      );
    }
    if (rest.length !== 1) throw new UsageError(`expected 1 argument, got ${rest.length}`);
    const config = await configFromFlags(values);
    const username = localpartOf(rest[0], config);
    const live = await askServer(join(config.dataDir, ADMIN_SOCKET_NAME), "sessions", {
      username,
    }) as LiveSession[] | undefined;
    using db = openDatabase(config.databasePath);
    const lines = describeAccount(db, username, config, Date.now(), live);
    if (lines === null) {
      console.error(`error: no such user: ${username}@${config.domain}`);
      return 1;
    }
    console.log(lines.join("\n"));
    return 0;
  });
}

/** The lines `user show` prints, or null if there is no such account. */
export function describeAccount(
  db: DatabaseSync,
  username: string,
  config: Config,
  now: number,
  /** The running server's sessions of the account; undefined when no server answers. */
  live: LiveSession[] | undefined,
): string[] | null {
  const facts = new SqliteAccountFacts(db);
  const createdAt = facts.createdAt(username);
  if (createdAt === null) return null;
  const sessions = live ?? [];
  const last = new SqliteLastActivityStore(db).get(username);
  const roster = facts.rosterCount(username);
  const offline = facts.offlineCount(username);
  const privateCount = new SqlitePrivateStore(db).count(username);
  const vcard = new SqliteVcardStore(db).get(username) !== null;
  let lastText: string;
  if (sessions.length > 0) lastText = "online now";
  else if (last === null) lastText = "never logged out";
  else {
    lastText = `logged out ${iso(last.logoutAt)} (${ago(now - last.logoutAt)} ago)` +
      (last.status ? `: "${last.status}"` : "");
  }
  return [
    `${username}@${config.domain}`,
    `  created:       ${iso(createdAt)}`,
    `  roster:        ${plural(roster, "contact")}`,
    `  offline:       ${plural(offline, "message")}`,
    `  vcard:         ${vcard ? "yes" : "no"}`,
    `  private xml:   ${plural(privateCount, "element")}`,
    `  last activity: ${lastText}`,
    `  sessions:      ${sessions.length}${live === undefined ? " (no server running)" : ""}`,
    ...sessions.map((s) => `    ${s.jid}  since ${iso(s.boundAt)}  (stream ${s.streamId})`),
  ];
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  if (s < 172800) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} days`;
}
