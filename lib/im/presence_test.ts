import { strict as assert } from "node:assert";
import { Router } from "../router/router.ts";
import { SqliteBlocklistStore } from "./blocklist_store.ts";
import type { LastActivity } from "../storage/last_activity_store.ts";
import { SqliteRosterStore } from "../storage/roster_store.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { el } from "../xml/element.ts";
import { Blocklists } from "./blocklists.ts";
import { presenceModule } from "./presence.ts";
import { Rosters } from "./rosters.ts";
import { recordingSession } from "../router/testing.ts";

/** Romeo online (no presence needed to receive probe answers to his full JID), Juliet offline. */
function setUp(last: LastActivity | null) {
  const db = openDatabase(":memory:");
  for (const user of ["romeo", "juliet"]) {
    db.prepare("INSERT INTO accounts (username, created_at) VALUES (?, 0)").run(user);
  }
  const router = new Router({ domain: "localhost", accountExists: () => true, log: () => {} });
  const rosters = new Rosters(new SqliteRosterStore(db), router);
  const blocklists = new Blocklists(new SqliteBlocklistStore(db), router);
  const reads: string[] = [];
  presenceModule(router, {
    rosters,
    blocklists,
    lastActivity: {
      get: (username) => (reads.push(username), last),
      set: () => {},
    },
  });
  const { session: romeo, received } = recordingSession("romeo@localhost/orchard");
  router.bind(romeo);
  const probe = () =>
    router.route(
      el("presence", { from: "romeo@localhost/orchard", to: "juliet@localhost", type: "probe" }),
    );
  const subscribe = (from: "from" | "none") =>
    rosters.save("juliet", {
      jid: "romeo@localhost",
      subscription: from,
      ask: false,
      approved: false,
      groups: [],
    });
  return { db, router, rosters, blocklists, received, reads, probe, subscribe };
}

Deno.test("a probe of an offline contact brings its last unavailable status and logout time", () => {
  const t = setUp({ logoutAt: Date.UTC(2024, 4, 1, 22, 30), status: "Gone to bed" });
  using _db = t.db;
  t.subscribe("from");
  t.probe();
  assert.deepEqual(t.received.map(String), [
    el(
      "presence",
      { from: "juliet@localhost", to: "romeo@localhost/orchard", type: "unavailable" },
      el("status", {}, "Gone to bed"),
      el("delay", {
        xmlns: "urn:xmpp:delay",
        from: "juliet@localhost",
        stamp: "2024-05-01T22:30:00.000Z",
      }),
    ).toString(),
  ]);
  assert.deepEqual(t.reads, ["juliet"]);
});

Deno.test("a probe of a contact that never logged out is answered with bare unavailable", () => {
  const t = setUp(null);
  using _db = t.db;
  t.subscribe("from");
  t.probe();
  assert.deepEqual(t.received.map(String), [
    el("presence", { from: "juliet@localhost", to: "romeo@localhost/orchard", type: "unavailable" })
      .toString(),
  ]);
});

Deno.test("an unsubscribed prober gets unsubscribed, unless its request is pending or blocked", () => {
  const t = setUp({ logoutAt: 0, status: null });
  using _db = t.db;
  // Without the subscriptions module the answer reaches Romeo's session as is.
  t.probe();
  assert.equal(t.reads.length, 0);
  assert.deepEqual(t.received.map(String), [
    el("presence", { from: "juliet@localhost", to: "romeo@localhost", type: "unsubscribed" })
      .toString(),
  ]);

  t.received.length = 0;
  t.rosters.addPending("juliet", "romeo@localhost", el("presence", { type: "subscribe" }));
  t.probe();
  assert.deepEqual(t.received, []);

  t.rosters.removePending("juliet", "romeo@localhost");
  t.subscribe("from");
  t.blocklists.add("juliet", ["romeo@localhost"]);
  t.probe();
  assert.deepEqual(t.received, []);
  assert.equal(t.reads.length, 0);
});

Deno.test("pending requests come with initial presence, except those of blocked contacts", async () => {
  const t = setUp(null);
  using _db = t.db;
  t.rosters.addPending(
    "romeo",
    "juliet@localhost",
    el("presence", { from: "juliet@localhost", to: "romeo@localhost", type: "subscribe" }),
  );
  t.rosters.addPending(
    "romeo",
    "tybalt@localhost",
    el("presence", { from: "tybalt@localhost", to: "romeo@localhost", type: "subscribe" }),
  );
  t.blocklists.add("romeo", ["tybalt@localhost"]);
  const romeo = t.router.sessionsOf("romeo@localhost")[0];
  romeo.presence = null;
  await t.router.fromClient(el("presence", { from: "romeo@localhost/orchard" }), romeo);
  const requests = t.received.filter((stanza) => stanza.attrs.type === "subscribe");
  assert.deepEqual(requests.map((stanza) => stanza.attrs.from), ["juliet@localhost"]);
});
