import { strict as assert } from "node:assert";
import { Accounts } from "../accounts/accounts.ts";
import { Router } from "../router/router.ts";
import { SqliteAccountStore } from "../storage/account_store.ts";
import { moduleVersion, openDatabase } from "../storage/sqlite.ts";
import { ModuleError, startModules, startOrder } from "./loader.ts";
import type { AnyServerModule, ModuleSection, ServerModule } from "./module.ts";

/** A module that writes what happens to it into `events`. */
function probe(
  events: string[],
  name: string,
  extra: Partial<ServerModule<Record<never, never>, string, Record<string, string | undefined>>> =
    {},
): AnyServerModule {
  return {
    name,
    description: `probe ${name}`,
    dependsOn: [],
    options: {},
    ...extra,
    start({ modules }) {
      const seen = Object.entries(modules).map(([dep, api]) => `${dep}=${api ?? "-"}`);
      events.push(`start ${name}${seen.length ? ` (${seen.join(", ")})` : ""}`);
      return { api: `${name}-api`, stop: () => void events.push(`stop ${name}`) };
    },
  };
}

function setUp(disabled: string[] = []) {
  const db = openDatabase(":memory:");
  const log: string[] = [];
  const router = new Router({ domain: "localhost", accountExists: () => false, log: () => {} });
  const options = {
    router,
    db,
    accounts: new Accounts(new SqliteAccountStore(db)),
    server: { domain: "localhost", mucDomain: "conference.localhost", admins: [] },
    log: (line: string) => void log.push(line),
    section: (name: string): ModuleSection<unknown> => ({ enabled: !disabled.includes(name) }),
  };
  return { db, log, router, options };
}

Deno.test("startModules() starts dependencies first, keeps list order otherwise, and stops in reverse", async () => {
  const events: string[] = [];
  const { db, options } = setUp();
  const modules = [
    probe(events, "carbons"),
    probe(events, "presence", { dependsOn: ["roster"], uses: ["blocking"] }),
    probe(events, "blocking", { dependsOn: ["roster"] }),
    probe(events, "roster"),
  ];
  const running = await startModules(modules, options);
  assert.deepEqual(events, [
    "start carbons",
    "start roster",
    "start blocking (roster=roster-api)",
    "start presence (roster=roster-api, blocking=blocking-api)",
  ]);
  assert.deepEqual(running.names, ["carbons", "roster", "blocking", "presence"]);
  events.length = 0;
  await running.stop();
  await running.stop();
  assert.deepEqual(events, ["stop presence", "stop blocking", "stop roster", "stop carbons"]);
  db.close();
});

Deno.test("startModules() gives a disabled module's users undefined, and refuses a disabled dependency naming both", async () => {
  const events: string[] = [];
  const modules = [
    probe(events, "roster"),
    probe(events, "blocking", { dependsOn: ["roster"] }),
    probe(events, "presence", { dependsOn: ["roster"], uses: ["blocking"] }),
  ];
  {
    const { db, options } = setUp(["blocking"]);
    const running = await startModules(modules, options);
    assert.deepEqual(events, ["start roster", "start presence (roster=roster-api, blocking=-)"]);
    assert.equal(running.has("blocking"), false);
    await running.stop();
    db.close();
  }
  events.length = 0;
  const { db, options } = setUp(["roster"]);
  await assert.rejects(() => startModules(modules, options), (error: unknown) => {
    assert.ok(error instanceof ModuleError);
    assert.equal(
      error.message,
      'Cannot start server: module "blocking" depends on module "roster", which is disabled ([roster] enabled = false); enable "roster" or disable "blocking"',
    );
    return true;
  });
  assert.deepEqual(events, [], "nothing starts when the list is inconsistent");
  db.close();
});

Deno.test("startOrder() names an unknown dependency and a cycle", () => {
  const events: string[] = [];
  assert.throws(
    () => startOrder([probe(events, "mam", { dependsOn: ["disco"] })], () => true),
    { message: 'Cannot start server: module "mam" depends on "disco", which does not exist' },
  );
  assert.throws(
    () =>
      startOrder([
        probe(events, "a", { dependsOn: ["b"] }),
        probe(events, "b", { dependsOn: ["a"] }),
      ], () => true),
    { message: "Cannot start server: modules depend on each other in a cycle: a -> b -> a" },
  );
  // A disabled module's own dependencies do not matter.
  assert.deepEqual(
    startOrder([probe(events, "mam", { dependsOn: ["disco"] })], () => false),
    [],
  );
});

Deno.test("startModules() applies a module's migrations once, records them, and adds its features", async () => {
  const events: string[] = [];
  const { db, router, options } = setUp();
  const mam = probe(events, "mam", {
    migrations: [
      "CREATE TABLE mam_archive (id INTEGER PRIMARY KEY, xml TEXT NOT NULL)",
      "CREATE INDEX mam_archive_by_id ON mam_archive (id)",
    ],
    features: { server: ["urn:xmpp:mam:2"], account: ["urn:xmpp:mam:2#extended"] },
  });
  let running = await startModules([mam], options);
  assert.equal(moduleVersion(db, "mam"), 2);
  db.prepare("INSERT INTO mam_archive (xml) VALUES ('<message/>')").run();
  await running.stop();
  assert.ok(router.serverFeatures.has("urn:xmpp:mam:2"));
  // Started again on the same database (a restart): nothing is applied twice, data stays.
  running = await startModules([mam], options);
  assert.equal(moduleVersion(db, "mam"), 2);
  assert.equal(db.prepare("SELECT count(*) AS n FROM mam_archive").get()?.n, 1);
  await running.stop();
  // A disabled module's tables are not created.
  const disabled = setUp(["mam"]);
  await (await startModules([mam], disabled.options)).stop();
  assert.equal(moduleVersion(disabled.db, "mam"), 0);
  disabled.db.close();
  db.close();
});

Deno.test("startModules() stops what started when a module fails, and names it", async () => {
  const events: string[] = [];
  const { db, options } = setUp();
  const broken: AnyServerModule = {
    name: "broken",
    description: "fails",
    dependsOn: ["roster"],
    options: {},
    start() {
      throw new Error("no luck");
    },
  };
  await assert.rejects(
    () => startModules([probe(events, "roster"), broken, probe(events, "later")], options),
    { name: "ModuleError", message: 'Cannot start module "broken": no luck' },
  );
  assert.deepEqual(events, ["start roster", "stop roster"]);
  db.close();
});
