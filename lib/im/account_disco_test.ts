import { strict as assert } from "node:assert";
import { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import { reply } from "../stanza/reply.ts";
import { SqliteRosterStore } from "../storage/roster_store.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { el } from "../xml/element.ts";
import { accountDiscoAccess } from "./account_disco.ts";
import { Rosters } from "./rosters.ts";
import { recordingSession } from "../router/testing.ts";

function setUp() {
  const db = openDatabase(":memory:");
  for (const user of ["romeo", "juliet"]) {
    db.prepare("INSERT INTO accounts (username, created_at) VALUES (?, 0)").run(user);
  }
  const router = new Router({ domain: "localhost", accountExists: () => true, log: () => {} });
  const rosters = new Rosters(new SqliteRosterStore(db), router);
  accountDiscoAccess(router, rosters);
  for (const ns of [NS.DISCO_INFO, NS.DISCO_ITEMS]) {
    router.iq.on(
      "account",
      "query",
      ns,
      (stanza) => reply(stanza).append(el("query", { xmlns: ns })),
    );
  }
  const { session: romeo, received } = recordingSession("romeo@localhost/orchard");
  router.bind(romeo);
  const ask = async (ns: string, to?: string) => {
    received.length = 0;
    await router.route(
      el(
        "iq",
        { type: "get", id: "q", from: "romeo@localhost/orchard", to },
        el("query", { xmlns: ns }),
      ),
      romeo,
    );
    return received[0]?.attrs.type === "result"
      ? "result"
      : received[0]?.getChild("error")?.elements()[0]?.name;
  };
  return { rosters, ask };
}

Deno.test("account disco#info answers the owner and presence subscribers only (XEP-0030 §8)", async () => {
  const t = setUp();
  assert.equal(await t.ask(NS.DISCO_INFO), "result");
  assert.equal(await t.ask(NS.DISCO_INFO, "romeo@localhost"), "result");
  assert.equal(await t.ask(NS.DISCO_INFO, "juliet@localhost"), "service-unavailable");
  // Romeo subscribed to Juliet ("to" on his side) is not enough: she must let him see her.
  t.rosters.save("juliet", {
    jid: "romeo@localhost",
    subscription: "to",
    ask: false,
    approved: false,
    groups: [],
  });
  assert.equal(await t.ask(NS.DISCO_INFO, "juliet@localhost"), "service-unavailable");
  t.rosters.save("juliet", {
    jid: "romeo@localhost",
    subscription: "from",
    ask: false,
    approved: false,
    groups: [],
  });
  assert.equal(await t.ask(NS.DISCO_INFO, "juliet@localhost"), "result");
});

Deno.test("account disco#items answers strangers too (an empty list, XEP-0030 §8)", async () => {
  const t = setUp();
  assert.equal(await t.ask(NS.DISCO_ITEMS, "juliet@localhost"), "result");
});
