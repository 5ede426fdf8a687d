import { strict as assert } from "node:assert";
import { Accounts } from "../accounts/accounts.ts";
import { defaultConfig, moduleSection, parseConfigToml } from "../config/config.ts";
import { HTTP_MODULE } from "../http/mod.ts";
import { startModules } from "../modules/loader.ts";
import { Router } from "../router/router.ts";
import { SqliteAccountStore } from "../storage/account_store.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { transaction } from "../storage/sql.ts";
import { Metrics } from "./metrics.ts";
import { METRICS_MODULE } from "./mod.ts";

async function start(toml: string) {
  const config = toml === "" ? defaultConfig() : parseConfigToml(toml, "test.toml");
  Object.assign(config.http, { port: 0, httpsPort: null, bind: "127.0.0.1" });
  const db = openDatabase(":memory:");
  const metrics = new Metrics();
  const running = await startModules([HTTP_MODULE, METRICS_MODULE], {
    router: new Router({ domain: "localhost", accountExists: () => false, log: () => {} }),
    db,
    accounts: new Accounts(new SqliteAccountStore(db)),
    server: { domain: "localhost", mucDomain: "conference.localhost", admins: [] },
    log: () => {},
    metrics,
    section: (name) => moduleSection(config, name),
  });
  const port = running.api(HTTP_MODULE)!.port!;
  return {
    db,
    metrics,
    get: (path: string) => fetch(`http://127.0.0.1:${port}${path}`),
    stop: () => running.stop(),
    async [Symbol.asyncDispose]() {
      await running.stop();
      db.close();
    },
  };
}

Deno.test("[metrics] allow_ips takes addresses and prefixes, and names a bad entry", () => {
  const config = parseConfigToml('[metrics]\nallow_ips = ["10.0.0.0/8", "::1"]\n', "x.toml");
  assert.deepEqual(config.metrics.allowIps, ["10.0.0.0/8", "::1"]);
  assert.throws(
    () => parseConfigToml('[metrics]\nallow_ips = ["10.0.0.0/8", "example.org"]\n', "x.toml"),
    /metrics\.allow_ips\[1\] must be an IP address or CIDR prefix/,
  );
  assert.throws(() => parseConfigToml('[metrics]\nallow_ips = "::1"\n', "x.toml"), /allow_ips/);
});

Deno.test("the metrics module serves /metrics to loopback and times the database's commits", async () => {
  await using module = await start("");
  transaction(module.db, () => module.db.exec("CREATE TABLE t (x)"));
  const response = await module.get("/metrics");
  assert.equal(response.status, 200);
  const text = await response.text();
  assert.match(text, /^verona_sqlite_commit_seconds_count [1-9]/m);
  assert.ok(text.endsWith("# EOF\n"));
  const other = await module.get("/metrics/more");
  assert.equal(other.status, 404);
  await other.body?.cancel();
  // The status page needs a login even from loopback.
  const page = await module.get("/admin/");
  assert.equal(page.status, 401);
  await page.body?.cancel();
});

Deno.test("[metrics] status_page = false leaves /admin/ unserved", async () => {
  await using module = await start("[metrics]\nstatus_page = false\n");
  const page = await module.get("/admin/");
  assert.equal(page.status, 404);
  await page.body?.cancel();
});

Deno.test("the metrics module stops timing commits when it stops", async () => {
  await using module = await start("");
  const timing = module.metrics.timing("verona_sqlite_commit_seconds", "");
  transaction(module.db, () => module.db.exec("CREATE TABLE a (x)"));
  const count = timing.count;
  assert.ok(count > 0);
  await module.stop();
  transaction(module.db, () => module.db.exec("CREATE TABLE b (x)"));
  assert.equal(timing.count, count);
});
