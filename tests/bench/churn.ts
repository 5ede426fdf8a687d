// Churn soak: thousands of login/logout cycles with a few hundred sessions open at once, against
// a Verona it starts with the default connection limits. At the end it asks the server for its
// own counts (SIGUSR2 status line) and reports open connections, RSS and refused logins; every
// count must be back to zero and no login refused.
//
//   deno task bench:churn                          # 5000 cycles, 300 at a time
//   deno task bench:churn --cycles 20000 --concurrency 400
import { parseArgs } from "node:util";
import { createAccounts } from "./_accounts.ts";
import { BenchClient } from "./_bench_client.ts";
import { rssKiB } from "./_proc.ts";
import { spawnServer } from "./_server.ts";

const USAGE = `Usage: deno task bench:churn [options]

Starts Verona with its default limits (max_connections 10000, 200 per address) and
runs --concurrency workers, each logging in (STARTTLS + SCRAM-SHA-1, bind, presence,
ping) and out again until --cycles logins are done. Half the logouts close the stream,
half drop the connection. Clients spread over loopback addresses 127.0.0.1.. so that
no address goes past its limit while the counts are right.

Options:
  --cycles N        logins in all (default 5000)
  --concurrency N   workers, so sessions open at once (default 300)
  --per-address N   workers per loopback address (default 150)
  -h, --help        show this help

Exit status 1 if a login failed or a count is not back to zero.`;

const PASSWORD = "churn-password";

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      cycles: { type: "string", default: "5000" },
      concurrency: { type: "string", default: "300" },
      "per-address": { type: "string", default: "150" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const cycles = positive("--cycles", values.cycles);
  const concurrency = positive("--concurrency", values.concurrency);
  const perAddress = positive("--per-address", values["per-address"]);

  const dataDir = await Deno.makeTempDir({ prefix: "verona-churn-" });
  await createAccounts(dataDir, "churn", concurrency, PASSWORD);
  const server = await spawnServer({
    args: ["--data", dataDir],
    pinCpus: undefined,
    startTimeoutMs: 30_000,
  });
  try {
    const rssBefore = await rssKiB(server.pid);
    const statusBefore = await askStatus(server);
    let started = 0;
    let done = 0;
    const failures: string[] = [];
    const t0 = performance.now();
    const worker = async (index: number) => {
      const localAddress = `127.0.0.${1 + Math.floor(index / perAddress)}`;
      while (started < cycles) {
        const cycle = started++;
        const client = new BenchClient();
        try {
          await client.login({
            host: "127.0.0.1",
            port: server.port,
            domain: "localhost",
            username: `churn${index + 1}`,
            password: PASSWORD,
            mechanism: "SCRAM-SHA-1",
            resource: "churn",
            timeoutMs: 10_000,
            localAddress,
          });
          if (cycle % 2 === 0) client.send("</stream:stream>");
          client.close();
          done++;
        } catch (error) {
          failures.push(error instanceof Error ? error.message : String(error));
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
    const seconds = (performance.now() - t0) / 1000;

    // Closed sockets may linger up to 2 s on the server before they are released.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const status = await askStatus(server);
    const rssAfter = await rssKiB(server.pid);
    const refusedByServer = server.stderr().split("\n").filter((l) =>
      l.includes("refused connection")
    ).length;
    const open = Number(status.match(/(\d+) connections open/)?.[1] ?? NaN);
    const sessions = Number(status.match(/(\d+) sessions bound/)?.[1] ?? NaN);

    console.log(
      `churn: ${done} of ${cycles} logins in ${seconds.toFixed(1)} s ` +
        `(${Math.round(done / seconds)}/s), ${concurrency} at a time, ` +
        `${Math.ceil(concurrency / perAddress)} loopback addresses`,
    );
    console.log(`server before: ${statusBefore}`);
    console.log(`server after:  ${status}`);
    console.log(
      `rss: ${(rssBefore / 1024).toFixed(1)} MiB before, ${(rssAfter / 1024).toFixed(1)} MiB after`,
    );
    console.log(`refused logins: ${failures.length} (server log: ${refusedByServer} refused)`);
    if (failures.length > 0) console.log(`first failure: ${failures[0]}`);
    const ok = failures.length === 0 && refusedByServer === 0 && open === 0 && sessions === 0;
    console.log(ok ? "churn: ok" : "churn: FAILED");
    return ok ? 0 : 1;
  } finally {
    await server.stop(5000);
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

/** Sends SIGUSR2 and waits for the status line it makes the server log (timestamped after). */
async function askStatus(server: { pid: number; stderr(): string }): Promise<string> {
  const asked = new Date().toISOString();
  Deno.kill(server.pid, "SIGUSR2");
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const lines = [...server.stderr().matchAll(/^(\S+) (status: .*)$/gm)];
    const answer = lines.findLast((line) => line[1] >= asked);
    if (answer) return answer[2];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return "status: no answer to SIGUSR2";
}

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer`);
  return n;
}

if (import.meta.main) {
  Deno.exit(await main());
}
