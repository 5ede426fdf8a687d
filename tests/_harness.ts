// Test harness: a real server on an ephemeral port with its own temporary data dir.
import { type Config, defaultConfig, parseConfigToml } from "../lib/config/config.ts";
import { Server } from "../lib/server/server.ts";
import { join } from "node:path";
import { strict as assert } from "node:assert";

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
  // No direct-TLS port unless a test asks for one (0: a free port), so none takes 5223.
  config.directTlsPort = null;
  config.bind = "127.0.0.1";
  // The HTTP(S) server on free ports of loopback, so that none takes 5280/5281.
  Object.assign(config.http, { port: 0, httpsPort: 0, bind: "127.0.0.1" });
  // Federation listens on a free port of loopback too, so that none takes 5269.
  Object.assign(config.s2s, { port: 0, bind: "127.0.0.1" });
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

/** Ways a connection can end, by name, for the accounting tests. */
export type Endings = Record<string, (test: TestServer) => Promise<void>>;

/**
 * Ends connections each way, more rounds than the per-address limit (a count leaked per
 * round would then refuse a later one), naming the way and round of a failure.
 */
export async function endEachWay(test: TestServer, endings: Endings, rounds = 6): Promise<void> {
  for (const [name, end] of Object.entries(endings)) {
    for (let round = 0; round < rounds; round++) {
      try {
        await end(test);
      } catch (error) {
        throw new Error(`${name}, round ${round + 1}: ${error}`);
      }
    }
  }
}

/** Waits until the server has released every connection (a closing socket may linger ≤ 2 s). */
export async function countsBackToZero(test: TestServer): Promise<void> {
  const deadline = Date.now() + 4000;
  while (test.server.connectionCount > 0 || test.server.connectionsPerAddress.size > 0) {
    if (Date.now() > deadline) {
      assert.fail(
        `still counted: ${test.server.connectionCount} open, per address ${
          JSON.stringify([...test.server.connectionsPerAddress])
        }`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(test.server.streamCount, 0, "every stream ended");
  assert.equal(test.server.router.sessionCount, 0, "every session unbound");
}
