// Verona's command line: `start`, account commands, `spec`.
import { startCommand } from "./lib/cli/start.ts";
import { userCommand } from "./lib/cli/users.ts";
import { userShowCommand } from "./lib/cli/user_show.ts";
import { specCommand } from "./lib/cli/spec.ts";
import { statusCommand } from "./lib/cli/status.ts";

const USAGE = `Verona — an XMPP server with multi-user chat and SQLite storage

Usage: verona <command> [options]

Commands:
  start                     run the server (default domain localhost, port 5222)
  adduser JID PASSWORD      create an account
  passwd JID PASSWORD       change an account's password
  deluser JID               delete an account
  users                     list accounts
  user show JID             show an account: roster and offline counts, last
                            activity, sessions of the running server
  status                    the running server's connections, sessions, memory
  spec --host H --port P FILE...
                            replay scansion scripts against any XMPP server

Run "verona <command> --help" for a command's options.`;

/** Dispatches to a command and returns its exit code. */
export function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "start":
      return startCommand(rest);
    case "adduser":
    case "passwd":
    case "deluser":
    case "users":
      return userCommand(command, rest);
    case "user":
      return userShowCommand(rest);
    case "spec":
      return specCommand(rest);
    case "status":
      return statusCommand(rest);
    case undefined:
    case "help":
    case "-h":
    case "--help":
      console.log(USAGE);
      return Promise.resolve(command === undefined ? 2 : 0);
    default:
      console.error(`error: unknown command "${command}"\n\n${USAGE}`);
      return Promise.resolve(2);
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
