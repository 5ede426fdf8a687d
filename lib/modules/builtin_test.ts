import { strict as assert } from "node:assert";
import { Accounts } from "../accounts/accounts.ts";
import { defaultConfig, moduleSection, parseConfigToml } from "../config/config.ts";
import { Router } from "../router/router.ts";
import { SqliteAccountStore } from "../storage/account_store.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { BUILTIN_MODULES } from "./builtin.ts";
import { startModules } from "./loader.ts";
import { optionKey } from "./module.ts";

function setUp() {
  const db = openDatabase(":memory:");
  const router = new Router({ domain: "localhost", accountExists: () => false, log: () => {} });
  const options = {
    router,
    db,
    accounts: new Accounts(new SqliteAccountStore(db)),
    server: { domain: "localhost", mucDomain: "conference.localhost", admins: [] },
    log: () => {},
  };
  return { db, router, options };
}

Deno.test("the built-in modules start from the default configuration, and a module can be left out", async () => {
  for (const config of [defaultConfig(), parseConfigToml("[vcard]\nenabled = false\n", "x")]) {
    // No HTTPS without a certificate; plain HTTP on a free port of loopback.
    Object.assign(config.http, { port: 0, httpsPort: null, bind: "127.0.0.1" });
    // Federation without a certificate has no TLS: it stays off (with a log line).
    Object.assign(config.s2s, { port: 0, bind: "127.0.0.1" });
    const { db, router, options } = setUp();
    const running = await startModules(BUILTIN_MODULES, {
      ...options,
      section: (name) => moduleSection(config, name),
    });
    const expected = BUILTIN_MODULES.map((m) => m.name).filter((n) => config[n].enabled);
    assert.deepEqual([...running.names].sort(), [...expected].sort());
    assert.equal(router.serverFeatures.has("vcard-temp"), config.vcard.enabled);
    await running.stop();
    db.close();
  }
});

Deno.test("the default configuration refuses a disabled roster while presence is on", async () => {
  const config = parseConfigToml("[roster]\nenabled = false\n", "x");
  const { db, options } = setUp();
  await assert.rejects(
    () => startModules(BUILTIN_MODULES, { ...options, section: (n) => moduleSection(config, n) }),
    /module "blocking" depends on module "roster", which is disabled/,
  );
  db.close();
});

Deno.test("every built-in module is documented in verona.example.toml with enabled and each key", async () => {
  const text = await Deno.readTextFile(
    new URL("../config/verona.example.toml", import.meta.url),
  );
  for (const module of BUILTIN_MODULES) {
    const start = text.indexOf(`\n[${module.name}]\n`);
    assert.ok(start >= 0, `no [${module.name}] section`);
    const end = text.indexOf("\n[", start + 1);
    const section = text.slice(start, end < 0 ? undefined : end);
    for (const key of ["enabled", ...Object.keys(module.options).map(optionKey)]) {
      assert.match(section, new RegExp(`^#? ?${key} = `, "m"), `${module.name}.${key}`);
    }
    assert.ok(module.description.length > 0 && !module.description.includes("\n"));
  }
});
