import { strict as assert } from "node:assert";
import { Accounts } from "../accounts/accounts.ts";
import { CARBONS_MODULE, OFFLINE_MODULE, ROSTER_MODULE } from "../im/mod.ts";
import { parseJid } from "../jid/jid.ts";
import { startModules } from "../modules/loader.ts";
import { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import { NS } from "../stanza/ns.ts";
import { SqliteAccountStore } from "../storage/account_store.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { el, type Element } from "../xml/element.ts";
import { loadXml } from "../xml/stored.ts";
import { isArchivable, MAM_MODULE, readExpiry } from "./mod.ts";
import { readQuery } from "./_codec.ts";
import { StanzaError } from "../stanza/stanza_error.ts";

const SECTIONS: Record<string, Record<string, unknown>> = {
  roster: {},
  carbons: {},
  offline: { maxMessages: 100 },
  mam: { defaultPolicy: "always", expiresAfter: 0, pageSize: 20, maxPageSize: 50 },
};

async function setUp() {
  const db = openDatabase(":memory:");
  const accounts = new Accounts(new SqliteAccountStore(db));
  for (const name of ["romeo", "juliet"]) await accounts.create(name, "pw");
  const router = new Router({
    domain: "localhost",
    accountExists: (local) => accounts.exists(local),
    log: () => {},
  });
  const running = await startModules([ROSTER_MODULE, CARBONS_MODULE, OFFLINE_MODULE, MAM_MODULE], {
    router,
    db,
    accounts,
    server: { domain: "localhost", mucDomain: "conference.localhost", admins: [] },
    log: () => {},
    section: (name) => ({ enabled: true, ...SECTIONS[name] }),
  });
  const session = (jid: string) => {
    const received: Element[] = [];
    const s: BoundSession = {
      id: jid,
      jid: parseJid(jid),
      presence: el("presence"),
      priority: 0,
      directedPresence: new Set(),
      send: (stanza) => received.push(loadXml(stanza.toString())),
      sendXml: (xml) => received.push(loadXml(xml)),
      closeWithError: () => {},
    };
    router.bind(s);
    return { session: s, received };
  };
  return {
    router,
    session,
    async [Symbol.asyncDispose]() {
      await running.stop();
      db.close();
    },
  };
}

function chat(from: BoundSession, to: string, body: string, ...extra: Element[]): Element {
  return el(
    "message",
    { from: from.jid.full, to, type: "chat", id: body },
    el("body", {}, body),
    ...extra,
  );
}

async function query(
  router: Router,
  who: { session: BoundSession; received: Element[] },
  ...children: Element[]
) {
  who.received.length = 0;
  await router.fromClient(
    el(
      "iq",
      { type: "set", id: "q", from: who.session.jid.full },
      el("query", { xmlns: NS.MAM, queryid: "f1" }, ...children),
    ),
    who.session,
  );
  const fin = who.received.pop()!;
  return { fin, results: [...who.received] };
}

Deno.test("mam archives a chat once on each side, and the recipient's copy carries the stanza-id", async () => {
  await using t = await setUp();
  const romeo = t.session("romeo@localhost/orchard");
  const juliet = t.session("juliet@localhost/balcony");
  const spoofed = el("stanza-id", { xmlns: NS.STANZA_ID, by: "juliet@localhost", id: "fake" });
  await t.router.fromClient(
    chat(romeo.session, "juliet@localhost", "hello", spoofed),
    romeo.session,
  );
  const delivered = juliet.received.pop()!;
  const ids = delivered.getChildren("stanza-id", NS.STANZA_ID);
  assert.equal(ids.length, 1, delivered.toString());
  assert.equal(ids[0].attrs.by, "juliet@localhost");
  assert.notEqual(ids[0].attrs.id, "fake");

  const mine = await query(t.router, juliet);
  assert.equal(mine.fin.attrs.type, "result");
  const fin = mine.fin.getChild("fin", NS.MAM)!;
  assert.equal(fin.attrs.complete, "true");
  assert.equal(mine.results.length, 1);
  const result = mine.results[0].getChild("result", NS.MAM)!;
  assert.equal(result.attrs.queryid, "f1");
  assert.equal(result.attrs.id, ids[0].attrs.id);
  assert.equal(fin.getChild("set", NS.RSM)!.getChildText("first"), ids[0].attrs.id);
  const forwarded = result.getChild("forwarded", NS.FORWARD)!;
  assert.ok(forwarded.getChild("delay", NS.DELAY)?.attrs.stamp);
  assert.equal(forwarded.getChild("message", NS.CLIENT)?.getChildText("body"), "hello");

  const his = await query(t.router, romeo);
  assert.equal(his.results.length, 1);
  assert.notEqual(his.results[0].getChild("result", NS.MAM)!.attrs.id, ids[0].attrs.id);
  // Romeo's own stanza-id never reaches Juliet.
  assert.equal(delivered.getChildren("stanza-id", NS.STANZA_ID).length, 1);
});

Deno.test("mam archives messages stored offline, with the stanza-id delivered at login", async () => {
  await using t = await setUp();
  const romeo = t.session("romeo@localhost/orchard");
  await t.router.fromClient(chat(romeo.session, "juliet@localhost", "later"), romeo.session);
  const juliet = t.session("juliet@localhost/balcony");
  juliet.session.presence = null;
  await t.router.fromClient(el("presence", { from: juliet.session.jid.full }), juliet.session);
  const offline = juliet.received.find((s) => s.name === "message")!;
  const id = offline.getChild("stanza-id", NS.STANZA_ID)!.attrs.id;
  const { results } = await query(t.router, juliet);
  assert.deepEqual(results.map((r) => r.getChild("result", NS.MAM)!.attrs.id), [id]);
});

Deno.test("mam leaves out chat states, no-store hints, errors and groupchat, and follows prefs", async () => {
  await using t = await setUp();
  const romeo = t.session("romeo@localhost/orchard");
  const juliet = t.session("juliet@localhost/balcony");
  const send = (stanza: Element) => t.router.fromClient(stanza, romeo.session);
  await send(
    el(
      "message",
      { from: romeo.session.jid.full, to: "juliet@localhost", type: "chat" },
      el("composing", { xmlns: NS.CHAT_STATES }),
    ),
  );
  await send(
    chat(
      romeo.session,
      "juliet@localhost",
      "secret",
      el("no-permanent-store", { xmlns: NS.HINTS }),
    ),
  );
  await send(
    el(
      "message",
      { from: romeo.session.jid.full, to: "juliet@localhost", type: "headline" },
      el("body", {}, "news"),
    ),
  );
  await send(
    chat(romeo.session, "juliet@localhost", "kept", el("active", { xmlns: NS.CHAT_STATES })),
  );
  const { results } = await query(t.router, juliet);
  assert.equal(results.length, 1);
  const kept = results[0].getChild("result", NS.MAM)!.getChild("forwarded", NS.FORWARD)!
    .getChild("message", NS.CLIENT)!;
  assert.equal(kept.getChildText("body"), "kept");
  assert.equal(kept.getChild("active", NS.CHAT_STATES), undefined);

  juliet.received.length = 0;
  await t.router.fromClient(
    el(
      "iq",
      { type: "set", id: "p", from: juliet.session.jid.full },
      el(
        "prefs",
        { xmlns: NS.MAM, default: "always" },
        el("always"),
        el("never", {}, el("jid", {}, "romeo@localhost")),
      ),
    ),
    juliet.session,
  );
  const answer = juliet.received.pop()!;
  assert.equal(answer.attrs.type, "result");
  assert.equal(
    answer.getChild("prefs", NS.MAM)?.getChild("never")?.getChildText("jid"),
    "romeo@localhost",
  );
  await send(chat(romeo.session, "juliet@localhost", "unarchived"));
  assert.equal((await query(t.router, juliet)).results.length, 1);
  assert.equal((await query(t.router, romeo)).results.length, 2);
});

Deno.test("mam refuses another user's archive, unknown ids, bad dates and unknown fields", async () => {
  await using t = await setUp();
  const romeo = t.session("romeo@localhost/orchard");
  const juliet = t.session("juliet@localhost/balcony");
  const ask = async (children: Element[], to?: string) => {
    romeo.received.length = 0;
    await t.router.fromClient(
      el(
        "iq",
        { type: "set", id: "e", from: romeo.session.jid.full, to },
        el("query", { xmlns: NS.MAM }, ...children),
      ),
      romeo.session,
    );
    const error = romeo.received.pop()!;
    assert.equal(error.attrs.type, "error", error.toString());
    return error.getChild("error")!.elements()[0].name;
  };
  const form = (name: string, value: string) =>
    el(
      "x",
      { xmlns: NS.DATA_FORMS, type: "submit" },
      el("field", { var: "FORM_TYPE", type: "hidden" }, el("value", {}, NS.MAM)),
      el("field", { var: name }, el("value", {}, value)),
    );
  assert.equal(await ask([], "juliet@localhost"), "forbidden");
  assert.equal(
    await ask([el("set", { xmlns: NS.RSM }, el("after", {}, "nope"))]),
    "item-not-found",
  );
  assert.equal(await ask([form("after-id", "nope")]), "item-not-found");
  assert.equal(await ask([form("start", "yesterday")]), "bad-request");
  assert.equal(await ask([form("{urn:example}x", "1")]), "feature-not-implemented");
  assert.ok(juliet.received.length === 0);
});

Deno.test("readQuery() clamps max to the page limit and reads the form and RSM", () => {
  const limits = { defaultPageSize: 20, maxPageSize: 50 };
  const q = (...children: Element[]) =>
    readQuery(el("query", { xmlns: NS.MAM }, ...children), limits);
  assert.equal(q().query.max, 20);
  assert.equal(q(el("set", { xmlns: NS.RSM }, el("max", {}, "1000"))).query.max, 50);
  assert.equal(q(el("set", { xmlns: NS.RSM }, el("before"))).query.before, "");
  assert.equal(q(el("flip-page")).flip, true);
  const dated = q(
    el(
      "x",
      { xmlns: NS.DATA_FORMS, type: "submit" },
      el("field", { var: "start" }, el("value", {}, "2010-08-07T00:00:00Z")),
      el("field", { var: "end" }, el("value", {}, "2010-08-07T02:00:00.5+02:00")),
      el("field", { var: "with" }, el("value", {}, "Romeo@Localhost/orchard")),
    ),
  ).query;
  assert.equal(dated.start, Date.UTC(2010, 7, 7));
  assert.equal(dated.end, Date.UTC(2010, 7, 7, 0, 0, 0, 500));
  assert.deepEqual(dated.with, { bare: "romeo@localhost", resource: "orchard" });
  assert.throws(() => q(el("set", { xmlns: NS.RSM }, el("max", {}, "-1"))), StanzaError);
});

Deno.test("isArchivable() and readExpiry() follow XEP-0313 §6.1.1, XEP-0334 and Prosody's units", () => {
  const m = (type: string | undefined, ...children: Element[]) =>
    el("message", { type }, ...children);
  assert.ok(isArchivable(m(undefined, el("body", {}, "x"))));
  assert.ok(isArchivable(m("chat", el("store", { xmlns: NS.HINTS }))));
  assert.ok(isArchivable(m("chat", el("received", { xmlns: NS.RECEIPTS }))));
  assert.ok(!isArchivable(m("groupchat", el("body", {}, "x"))));
  assert.ok(!isArchivable(m("error", el("body", {}, "x"))));
  assert.ok(!isArchivable(m("chat", el("body", {}, "x"), el("no-store", { xmlns: NS.HINTS }))));
  assert.ok(!isArchivable(m("chat", el("gone", { xmlns: NS.CHAT_STATES }))));
  assert.equal(readExpiry("k", "never"), 0);
  assert.equal(readExpiry("k", 0), 0);
  assert.equal(readExpiry("k", "1w"), 7 * 86_400_000);
  assert.equal(readExpiry("k", "2d"), 2 * 86_400_000);
  assert.throws(() => readExpiry("mam.expires_after", "soon"), /mam.expires_after must be/);
  assert.throws(() => readExpiry("k", 7), /must be/);
});

Deno.test("mam's roster policy archives only messages with contacts in the roster", async () => {
  await using t = await setUp();
  const romeo = t.session("romeo@localhost/orchard");
  const juliet = t.session("juliet@localhost/balcony");
  const iq = (child: Element) =>
    t.router.fromClient(
      el("iq", { type: "set", id: "s", from: juliet.session.jid.full }, child),
      juliet.session,
    );
  await iq(el("prefs", { xmlns: NS.MAM, default: "roster" }));
  await t.router.fromClient(chat(romeo.session, "juliet@localhost", "stranger"), romeo.session);
  assert.equal((await query(t.router, juliet)).results.length, 0);
  await iq(el("query", { xmlns: NS.ROSTER }, el("item", { jid: "romeo@localhost" })));
  await t.router.fromClient(chat(romeo.session, "juliet@localhost", "contact"), romeo.session);
  const { results } = await query(t.router, juliet);
  assert.deepEqual(
    results.map((r) =>
      r.getChild("result", NS.MAM)!.getChild("forwarded", NS.FORWARD)!.getChild(
        "message",
        NS.CLIENT,
      )!.getChildText("body")
    ),
    ["contact"],
  );
});
