import { strict as assert } from "node:assert";
import { Accounts } from "../accounts/accounts.ts";
import { DISCO_MODULE } from "../disco/mod.ts";
import { OFFLINE_MODULE } from "../im/mod.ts";
import { Metrics } from "../metrics/metrics.ts";
import { startModules } from "../modules/loader.ts";
import type { ModuleSection } from "../modules/module.ts";
import { Router } from "../router/router.ts";
import { recordingSession } from "../router/testing.ts";
import { SqliteAccountStore } from "../storage/account_store.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { NS } from "../stanza/ns.ts";
import { el } from "../xml/element.ts";
import { PUSH, PUSH_MODULE } from "./mod.ts";

async function start(withOffline: boolean) {
  const db = openDatabase(":memory:");
  const accounts = new Accounts(new SqliteAccountStore(db));
  for (const name of ["juliet", "pushserver"]) await accounts.create(name, "pw");
  const router = new Router({
    domain: "localhost",
    accountExists: (local) => accounts.exists(local),
    log: () => {},
  });
  const metrics = new Metrics();
  const sections: Record<string, unknown> = {
    disco: { enabled: true },
    offline: { enabled: true, maxMessages: 100 },
    push: {
      enabled: true,
      ...Object.fromEntries(Object.entries(PUSH_MODULE.options).map(([k, o]) => [k, o.default])),
    },
  };
  const running = await startModules([
    DISCO_MODULE,
    ...withOffline ? [OFFLINE_MODULE] : [],
    PUSH_MODULE,
  ], {
    router,
    db,
    accounts,
    metrics,
    server: { domain: "localhost", mucDomain: "conference.localhost", admins: [] },
    log: () => {},
    section: (name) => sections[name] as ModuleSection<unknown> | undefined,
  });
  const app = recordingSession("pushserver@localhost/app");
  router.bind(app.session);
  const juliet = recordingSession("juliet@localhost/phone", { presence: null });
  router.bind(juliet.session);
  await router.route(
    el(
      "iq",
      { type: "set", id: "e", from: juliet.session.jid.full },
      el("enable", { xmlns: PUSH, jid: app.session.jid.full, node: "n" }),
    ),
    juliet.session,
  );
  assert.equal(juliet.received.pop()?.attrs.type, "result");
  await router.route(
    el(
      "iq",
      { type: "get", id: "d", from: juliet.session.jid.full, to: "juliet@localhost" },
      el("query", { xmlns: NS.DISCO_INFO }),
    ),
    juliet.session,
  );
  const features = juliet.received.pop()!.getChild("query", NS.DISCO_INFO)!.getChildren("feature");
  assert.ok(features.some((f) => f.attrs.var === PUSH), "urn:xmpp:push:0 on the account");
  await router.unbind(juliet.session);
  return { db, router, running, metrics, app, accounts };
}

const hello = el(
  "message",
  { from: "romeo@localhost/orchard", to: "juliet@localhost", type: "chat" },
  el("body", {}, "hello"),
);

Deno.test("the push module from its defaults: the account feature, a push when offline storage keeps the message", async () => {
  const { db, router, running, metrics, app, accounts } = await start(true);
  const info = running.api(PUSH_MODULE)!.registrations("juliet");
  assert.equal(info.length, 1);
  await router.route(hello);
  assert.equal(app.received.filter((s) => s.name === "iq").length, 1);
  assert.match(metrics.render(), /verona_push_registrations 1/);
  accounts.remove("juliet");
  assert.match(metrics.render(), /verona_push_registrations 0/);
  await running.stop();
  db.close();
});

Deno.test("the push module without offline storage pushes nothing for a message that bounces", async () => {
  const { db, router, running, app } = await start(false);
  await router.route(hello);
  assert.equal(app.received.filter((s) => s.name === "iq").length, 0);
  await running.stop();
  db.close();
});
