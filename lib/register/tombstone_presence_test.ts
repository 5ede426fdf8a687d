import { strict as assert } from "node:assert";
import { Accounts } from "../accounts/accounts.ts";
import { Router } from "../router/router.ts";
import { SqliteAccountStore } from "../storage/account_store.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { SqliteTombstoneStore } from "../storage/tombstone_store.ts";
import { el } from "../xml/element.ts";
import { tombstonePresence } from "./tombstone_presence.ts";
import { recordingSession } from "../router/testing.ts";

async function setUp() {
  const db = openDatabase(":memory:");
  const accounts = new Accounts(new SqliteAccountStore(db), {
    tombstones: new SqliteTombstoneStore(db),
    tombstoneDays: 30,
  });
  for (const user of ["romeo", "juliet"]) await accounts.create(user, "pw");
  accounts.remove("juliet");
  const router = new Router({
    domain: "localhost",
    accountExists: (local) => accounts.exists(local),
    log: () => {},
  });
  tombstonePresence(router, accounts);
  const { session: romeo, received } = recordingSession("romeo@localhost/orchard");
  router.bind(romeo);
  const send = async (attrs: Record<string, string>) => {
    received.length = 0;
    await router.fromClient(el("presence", { from: "romeo@localhost/orchard", ...attrs }), romeo);
    return received.map((stanza) =>
      stanza.attrs.type === "error"
        ? `error ${stanza.getChild("error")?.elements()[0]?.name} from ${stanza.attrs.from}`
        : `${stanza.attrs.type ?? "available"} from ${stanza.attrs.from}`
    );
  };
  return { db, send };
}

Deno.test("presence to a removed account: <gone/>, then what ends the subscription", async () => {
  const t = await setUp();
  using _db = t.db;
  // The follow-up is routed to Romeo's bare JID; without the IM modules it reaches his session.
  assert.deepEqual(await t.send({ to: "juliet@localhost" }), [
    "error gone from juliet@localhost",
    "unsubscribe from juliet@localhost",
  ]);
  assert.deepEqual(await t.send({ to: "juliet@localhost", type: "probe" }), [
    "error gone from juliet@localhost",
    "unsubscribed from juliet@localhost",
  ]);
  assert.deepEqual(await t.send({ to: "juliet@localhost", type: "subscribe" }), [
    "error gone from juliet@localhost",
    "unsubscribed from juliet@localhost",
  ]);
  // Answers to her old requests, and presence to accounts that never were, change nothing here.
  assert.deepEqual(await t.send({ to: "juliet@localhost", type: "subscribed" }), []);
  assert.deepEqual(await t.send({ to: "nobody@localhost" }), []);
  assert.deepEqual(await t.send({ to: "romeo@localhost" }), [
    "available from romeo@localhost/orchard",
  ]);
});
