// Test harness: a real server on an ephemeral port with its own temporary data dir.
import { type Config, defaultConfig, parseConfigToml } from "../lib/config/config.ts";
import { Server } from "../lib/server/server.ts";
import { join } from "node:path";

export interface TestServer {
  server: Server;
  port: number;
  dataDir: string;
  /** Lines the server logged. */
  log: string[];
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a server on 127.0.0.1:0 with a fresh data dir and the given accounts. */
export async function startTestServer(
  options: {
    accounts?: [string, string][];
    dataDir?: string;
    /** Adjusts the configuration before the server starts. */
    configure?: (config: Config) => void;
    /** A TOML configuration to start from (its address and data dir are replaced). */
    toml?: { text: string; origin: string };
  } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "verona-test-" });
  const config = options.toml
    ? parseConfigToml(options.toml.text, options.toml.origin)
    : defaultConfig();
  config.port = 0;
  config.bind = "127.0.0.1";
  config.dataDir = dataDir;
  config.databasePath = join(dataDir, "verona.sqlite");
  // Keep failure tests quick; the delay itself is tested separately.
  config.limits.authFailureDelayMs = 50;
  options.configure?.(config);
  const log: string[] = [];
  const server = await Server.start(config, { log: (line) => log.push(line) });
  for (const [user, password] of options.accounts ?? []) {
    if (!server.accounts.exists(user)) await server.accounts.create(user, password);
  }
  return {
    server,
    port: server.port,
    dataDir,
    log,
    async [Symbol.asyncDispose]() {
      await server.stop();
      if (!options.dataDir) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}
