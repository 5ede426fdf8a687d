import { strict as assert } from "node:assert";
import { Accounts } from "../accounts/accounts.ts";
import { Counter } from "../metrics/metrics.ts";
import { Router } from "../router/router.ts";
import { recordingSession } from "../router/testing.ts";
import { NS } from "../stanza/ns.ts";
import { SqliteAccountStore } from "../storage/account_store.ts";
import { migrateModule, openDatabase } from "../storage/sqlite.ts";
import { el, type Element } from "../xml/element.ts";
import { PUSH } from "./_ns.ts";
import { pushModule, type PushOptions } from "./push.ts";
import { PUSH_MIGRATIONS, SqlitePushStore } from "./registration_store.ts";

const APP = "pushserver@localhost/app";

async function setUp(options: Partial<PushOptions> = {}) {
  const db = openDatabase(":memory:");
  migrateModule(db, "push", PUSH_MIGRATIONS);
  const accounts = new Accounts(new SqliteAccountStore(db));
  for (const name of ["juliet", "romeo", "pushserver"]) await accounts.create(name, "pw");
  const log: string[] = [];
  const router = new Router({
    domain: "localhost",
    accountExists: (local) => accounts.exists(local),
    log: (line) => log.push(line),
  });
  const outcomes = new Counter("push", "", ["outcome"]);
  const store = new SqlitePushStore(db);
  let ids = 0;
  const push = pushModule(router, {
    store,
    includeBody: false,
    includeSender: true,
    maxRegistrations: 2,
    maxFormBytes: 512,
    throttleMs: 0,
    replyTimeoutMs: 5000,
    offlineStorage: true,
    log: (line) => log.push(line),
    outcomes,
    newId: () => `n${++ids}`,
    ...options,
  });
  const app = recordingSession(APP, { id: "app" });
  router.bind(app.session);
  const romeo = recordingSession("romeo@localhost/orchard", { id: "romeo" });
  router.bind(romeo.session);
  return { db, router, store, push, app, romeo, log, outcomes, accounts };
}

type Env = Awaited<ReturnType<typeof setUp>>;

/** Juliet's session (bound, no presence: messages to her bare JID are undelivered). */
function juliet(env: Env) {
  const session = recordingSession("juliet@localhost/phone", { id: "juliet", presence: null });
  env.router.bind(session.session);
  return session;
}

async function iq(env: Env, from: ReturnType<typeof juliet>, payload: Element): Promise<Element> {
  await env.router.route(
    el("iq", { type: "set", id: "e", from: from.session.jid.full }, payload),
    from.session,
  );
  return from.received.pop()!;
}

const enable = (node = "node1", ...children: Element[]) =>
  el("enable", { xmlns: PUSH, jid: APP, node }, ...children);

function message(env: Env, body?: string, extra?: Element) {
  return env.router.route(
    el(
      "message",
      { from: "romeo@localhost/orchard", to: "juliet@localhost", type: "chat", id: "m" },
      body !== undefined && el("body", {}, body),
      extra,
    ),
  );
}

function condition(stanza: Element): string | undefined {
  return stanza.getChild("error")?.elements().find((e) => e.attrs.xmlns === NS.STANZA_ERRORS)
    ?.name;
}

function summary(publish: Element): Map<string, string> {
  const x = publish.getChild("pubsub", NS.PUBSUB)!.getChild("publish")!.getChild("item")!
    .getChild("notification", PUSH)!.getChild("x", NS.DATA_FORMS)!;
  return new Map(x.getChildren("field").map((f) => [f.attrs.var!, f.getChildText("value")!]));
}

Deno.test("enable and disable (XEP-0357 §5, §6): stored per JID and node, owner only, bounded", async () => {
  const env = await setUp();
  const j = juliet(env);
  assert.equal((await iq(env, j, enable("a"))).attrs.type, "result");
  assert.equal((await iq(env, j, enable("a"))).attrs.type, "result"); // again: replaced
  assert.equal((await iq(env, j, enable("b"))).attrs.type, "result");
  assert.equal(condition(await iq(env, j, enable("c"))), "policy-violation");
  assert.deepEqual(env.store.list("juliet").map((r) => r.node), ["a", "b"]);
  assert.equal(
    condition(await iq(env, j, el("enable", { xmlns: PUSH, node: "x" }))),
    "bad-request",
  );
  assert.equal(
    condition(await iq(env, j, el("enable", { xmlns: PUSH, jid: APP }))),
    "bad-request",
  );
  assert.equal(
    condition(await iq(env, j, el("enable", { xmlns: PUSH, jid: "@bad", node: "x" }))),
    "jid-malformed",
  );
  // Someone else's account.
  await env.router.route(
    el(
      "iq",
      { type: "set", id: "o", from: "romeo@localhost/orchard", to: "juliet@localhost" },
      enable(),
    ),
    env.romeo.session,
  );
  assert.equal(condition(env.romeo.received.pop()!), "forbidden");
  // §6: one node, then every node of the JID.
  await iq(env, j, el("disable", { xmlns: PUSH, jid: APP, node: "a" }));
  assert.deepEqual(env.store.list("juliet").map((r) => r.node), ["b"]);
  await iq(env, j, enable("c"));
  assert.equal((await iq(env, j, el("disable", { xmlns: PUSH, jid: APP }))).attrs.type, "result");
  assert.deepEqual(env.store.list("juliet"), []);
  env.push.stop();
});

Deno.test("enable keeps a publish-options form (§5) and refuses other forms or big ones", async () => {
  const env = await setUp();
  const j = juliet(env);
  const form = (type: string, formType: string, secret = "s3") =>
    el(
      "x",
      { xmlns: NS.DATA_FORMS, type },
      el("field", { var: "FORM_TYPE" }, el("value", {}, formType)),
      el("field", { var: "secret" }, el("value", {}, secret)),
    );
  assert.equal(
    condition(await iq(env, j, enable("n", form("form", NS.PUBSUB_PUBLISH_OPTIONS)))),
    "bad-request",
  );
  assert.equal(
    condition(await iq(env, j, enable("n", form("submit", NS.PUBSUB_NODE_CONFIG)))),
    "bad-request",
  );
  assert.equal(
    condition(
      await iq(env, j, enable("n", form("submit", NS.PUBSUB_PUBLISH_OPTIONS, "x".repeat(600)))),
    ),
    "policy-violation",
  );
  assert.equal(
    (await iq(env, j, enable("n", form("submit", NS.PUBSUB_PUBLISH_OPTIONS)))).attrs.type,
    "result",
  );
  await message(env, "hello");
  const publish = env.app.received.pop()!;
  const options = publish.getChild("pubsub", NS.PUBSUB)!.getChild("publish-options")!;
  assert.match(options.toString(), /<value>s3<\/value>/);
  env.push.stop();
});

Deno.test("an offline message pushes the summary; a result is recognised, an error disables", async () => {
  const env = await setUp();
  const j = juliet(env);
  await iq(env, j, enable());
  await message(env, "first");
  const publish = env.app.received.pop()!;
  assert.equal(publish.attrs.from, "juliet@localhost");
  assert.equal(publish.attrs.to, APP);
  assert.deepEqual(
    [...summary(publish)],
    [["FORM_TYPE", "urn:xmpp:push:summary"], ["message-count", "1"], [
      "last-message-sender",
      "romeo@localhost/orchard",
    ]],
  );
  await env.router.route(
    el("iq", { type: "result", id: publish.attrs.id, from: APP, to: "juliet@localhost" }),
  );
  assert.equal(env.outcomes.value(["delivered"]), 1);
  // A chat state alone pushes nothing.
  await message(env, undefined, el("composing", { xmlns: NS.CHAT_STATES }));
  assert.equal(env.app.received.length, 0);
  await message(env, "second");
  const again = env.app.received.pop()!;
  assert.equal(summary(again).get("message-count"), "2");
  // An answer from someone else is not the app server's.
  await env.router.route(
    el("iq", {
      type: "error",
      id: again.attrs.id,
      from: "romeo@localhost/orchard",
      to: "juliet@localhost",
    }),
  );
  assert.equal(env.store.list("juliet").length, 1);
  // A wait error keeps the registration (§8: transient).
  const error = (id: string, type: string, name: string) =>
    env.router.route(
      el(
        "iq",
        { type: "error", id, from: APP, to: "juliet@localhost" },
        el("error", { type }, el(name, { xmlns: NS.STANZA_ERRORS })),
      ),
    );
  await error(again.attrs.id!, "wait", "resource-constraint");
  assert.equal(env.store.list("juliet").length, 1);
  await message(env, "third");
  await error(env.app.received.pop()!.attrs.id!, "cancel", "item-not-found");
  assert.deepEqual(env.store.list("juliet"), []);
  assert.ok(env.log.some((line) => line.includes("item-not-found; registration disabled")));
  await message(env, "fourth");
  assert.equal(env.app.received.length, 0);
  assert.equal(env.outcomes.value(["disabled"]), 1);
  assert.equal(env.outcomes.value(["transient_error"]), 1);
  env.push.stop();
});

Deno.test("include_body sends the body; activity of the account starts the count again", async () => {
  const env = await setUp({ includeBody: true, includeSender: false });
  const j = juliet(env);
  await iq(env, j, enable());
  await message(env, "one");
  await message(env, "two");
  const second = summary(env.app.received.pop()!);
  assert.equal(second.get("message-count"), "2");
  assert.equal(second.get("last-message-body"), "two");
  assert.equal(second.has("last-message-sender"), false);
  await env.router.fromClient(el("presence", { from: j.session.jid.full }), j.session);
  j.session.presence = null; // and gone again
  await message(env, "three");
  assert.equal(summary(env.app.received.pop()!).get("message-count"), "1");
  env.push.stop();
});

Deno.test("throttling: one push per interval, what came meanwhile in one more at its end", async () => {
  const env = await setUp({ throttleMs: 150 });
  const j = juliet(env);
  await iq(env, j, enable());
  await message(env, "a");
  await message(env, "b");
  await message(env, "c");
  assert.equal(env.app.received.length, 1);
  assert.equal(env.outcomes.value(["throttled"]), 2);
  await new Promise((resolve) => setTimeout(resolve, 250));
  assert.equal(env.app.received.length, 2);
  assert.equal(summary(env.app.received[1]).get("message-count"), "3");
  env.push.stop();
});

Deno.test("a session waiting for resumption pushes to the registrations it enabled only", async () => {
  const env = await setUp();
  const j = juliet(env);
  await iq(env, j, enable("phone"));
  const desktop = recordingSession("juliet@localhost/desktop", { id: "desk", presence: null });
  env.router.bind(desktop.session);
  const held = [
    `<message from='romeo@localhost/orchard' to='juliet@localhost/desktop' type='chat'><body>hi</body></message>`,
  ];
  env.router.hooks.notify("held-for-resumption", { session: desktop.session, stanzas: held });
  assert.equal(env.app.received.length, 0, "the desktop enabled nothing");
  env.router.hooks.notify("held-for-resumption", {
    session: j.session,
    stanzas: [el("presence", { from: "romeo@localhost/orchard" }), ...held],
  });
  const publish = env.app.received.pop()!;
  assert.equal(publish.getChild("pubsub", NS.PUBSUB)!.getChild("publish")!.attrs.node, "phone");
  env.push.stop();
});

Deno.test("no answer in time is logged, and the registration kept; removal forgets the account", async () => {
  const env = await setUp({ replyTimeoutMs: 50 });
  const j = juliet(env);
  await iq(env, j, enable());
  await message(env, "x");
  await new Promise((resolve) => setTimeout(resolve, 120));
  assert.equal(env.outcomes.value(["timeout"]), 1);
  assert.ok(env.log.some((line) => line.includes("no answer from")));
  assert.equal(env.store.list("juliet").length, 1);
  env.accounts.remove("juliet");
  env.push.removed("juliet");
  assert.equal(env.store.total(), 0, "rows go with the account (cascade)");
  env.push.stop();
});

Deno.test("§9: an affiliation of none from the app server disables that node", async () => {
  const env = await setUp();
  const j = juliet(env);
  await iq(env, j, enable());
  await env.router.route(
    el(
      "message",
      { from: APP, to: "juliet@localhost" },
      el(
        "pubsub",
        { xmlns: NS.PUBSUB, node: "node1" },
        el("affiliation", { jid: "juliet@localhost", affiliation: "none" }),
      ),
    ),
  );
  assert.deepEqual(env.store.list("juliet"), []);
  env.push.stop();
});
