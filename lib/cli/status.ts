// `verona status`: the running server's own counts, asked through its admin socket.
import { join } from "node:path";
import { type ServerStatus, statusLine } from "../admin/admin_commands.ts";
import { ADMIN_SOCKET_NAME, askServer } from "../admin/admin_socket.ts";
import { CONFIG_FLAGS, configFromFlags, parseFlags, runCommand, UsageError } from "./_args.ts";

export const STATUS_USAGE = `Usage: verona status [options]

Asks the running server (through the admin socket in its data directory) for
its open connections (in all and per address), streams, bound sessions, memory
and uptime. Exit code 1 if no server answers.

Options:
  --config FILE   TOML configuration file
  --data DIR      data directory (default: ./data)
  --json          print the figures as one JSON object
  -h, --help      show this help`;

export function statusCommand(args: string[]): Promise<number> {
  return runCommand(STATUS_USAGE, async () => {
    const { values, positionals } = parseFlags(args, {
      ...CONFIG_FLAGS,
      json: { type: "boolean" },
    });
    if (values.help) {
      console.log(STATUS_USAGE);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const config = await configFromFlags(values);
    const path = join(config.dataDir, ADMIN_SOCKET_NAME);
    const status = await askServer(path, "status") as ServerStatus | undefined;
    if (status === undefined) {
      console.error(`error: no server answers on ${path}`);
      return 1;
    }
    if (values.json) console.log(JSON.stringify(status));
    else {
      console.log(statusLine(status));
      for (const [address, count] of Object.entries(status.connectionsPerAddress)) {
        console.log(`  ${address}: ${count}`);
      }
      if (status.s2s !== undefined && status.s2s.domains.length > 0) {
        console.log(`  federated with: ${status.s2s.domains.join(", ")}`);
      }
    }
    return 0;
  });
}
