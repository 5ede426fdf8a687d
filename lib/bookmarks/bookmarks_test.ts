import { strict as assert } from "node:assert";
import { Accounts } from "../accounts/accounts.ts";
import { CAPS_MODULE } from "../caps/mod.ts";
import { DISCO_MODULE } from "../disco/mod.ts";
import { ROSTER_MODULE } from "../im/mod.ts";
import { startModules } from "../modules/loader.ts";
import { PEP_MODULE } from "../pep/mod.ts";
import { PRIVATE_STORAGE_MODULE } from "../private_storage/mod.ts";
import { Router } from "../router/router.ts";
import { recordingSession } from "../router/testing.ts";
import { NS } from "../stanza/ns.ts";
import { SqliteAccountStore } from "../storage/account_store.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { el, type Element } from "../xml/element.ts";
import {
  BOOKMARKS_MODULE,
  COMPAT_PEP_FEATURE,
  LEGACY_ITEM,
  NS_BOOKMARKS2,
  NS_LEGACY,
  PRIVATE_XML_FEATURES,
  toBookmarks2,
  toLegacy,
} from "./mod.ts";
import { PEP_TEST_SECTIONS } from "../pep/_harness.ts";
import { sameXml } from "./bookmarks.ts";

Deno.test("a legacy conference and a XEP-0402 item convert both ways, autojoin as it is", () => {
  const legacy = el(
    "conference",
    { jid: "play@conference.localhost", name: "The Play", autojoin: "1" },
    el("nick", {}, "JC"),
    el("password", {}, "secret"),
  );
  const item = toBookmarks2(legacy)!;
  assert.equal(item.id, "play@conference.localhost");
  assert.equal(
    item.payload.toString(),
    el(
      "conference",
      { xmlns: NS_BOOKMARKS2, name: "The Play", autojoin: "1" },
      el("nick", {}, "JC"),
      el("password", {}, "secret"),
    ).toString(),
  );
  assert.equal(toLegacy(item.id, item.payload).toString(), legacy.toString());
  assert.equal(toBookmarks2(el("conference", { name: "no jid" })), undefined);
  assert.equal(
    toLegacy("a@b", el("conference", { xmlns: NS_BOOKMARKS2 })).toString(),
    el("conference", { jid: "a@b" }).toString(),
  );
});

Deno.test("sameXml ignores the order of attributes and whitespace between elements", () => {
  const a = el("c", { x: "1", y: "2" }, "\n  ", el("nick", {}, "JC"));
  assert.ok(sameXml(a, el("c", { y: "2", x: "1" }, el("nick", {}, "JC"))));
  assert.ok(!sameXml(a, el("c", { y: "2", x: "1" }, el("nick", {}, "JD"))));
  assert.ok(!sameXml(a, el("c", { x: "1" }, el("nick", {}, "JC"))));
});

async function start(withPrivateStorage = true) {
  const db = openDatabase(":memory:");
  const accounts = new Accounts(new SqliteAccountStore(db));
  await accounts.create("juliet", "pw");
  const router = new Router({ domain: "localhost", accountExists: () => true, log: () => {} });
  const sections: Record<string, unknown> = {
    ...PEP_TEST_SECTIONS,
    private_storage: { enabled: true, maxBytes: 4096, maxElements: 8 },
    bookmarks: { enabled: true },
  };
  const running = await startModules(
    [
      DISCO_MODULE,
      ROSTER_MODULE,
      CAPS_MODULE,
      PEP_MODULE,
      ...(withPrivateStorage ? [PRIVATE_STORAGE_MODULE] : []),
      BOOKMARKS_MODULE,
    ],
    {
      router,
      db,
      accounts,
      server: { domain: "localhost", mucDomain: "conference.localhost", admins: [] },
      log: (line) => {
        throw new Error(line);
      },
      section: (name) => sections[name] as never,
    },
  );
  const { session, received } = recordingSession("juliet@localhost/balcony", {
    id: "s1",
    presence: null,
  });
  router.bind(session);
  const iq = async (type: string, child: Element): Promise<Element> => {
    await router.route(el("iq", { type, id: "q", from: session.jid.full }, child), session);
    const reply = received.pop()!;
    assert.equal(reply.attrs.type, "result", reply.toString());
    return reply;
  };
  const pep = running.api(PEP_MODULE)!;
  const privateStorage = running.api(PRIVATE_STORAGE_MODULE)!;
  const features = async () =>
    (await iq("get", el("query", { xmlns: NS.DISCO_INFO }))).getChild("query", NS.DISCO_INFO)!
      .getChildren("feature").map((f) => f.attrs.var);
  return {
    iq,
    pep,
    privateStorage,
    features,
    received,
    async [Symbol.asyncDispose]() {
      await running.stop();
      db.close();
    },
  };
}

const publish2 = (id: string, payload: Element) =>
  el(
    "pubsub",
    { xmlns: NS.PUBSUB },
    el("publish", { node: NS_BOOKMARKS2 }, el("item", { id }, payload)),
  );

const retract2 = (id: string) =>
  el(
    "pubsub",
    { xmlns: NS.PUBSUB },
    el("retract", { node: NS_BOOKMARKS2 }, el("item", { id })),
  );

const storeLegacy = (...children: Element[]) =>
  el("query", { xmlns: NS.PRIVATE }, el("storage", { xmlns: NS_LEGACY }, ...children));

Deno.test("legacy bookmarks stored in private XML become a private bookmarks:1 node", async () => {
  await using server = await start();
  const play = el("conference", { jid: "play@conference.localhost", autojoin: "true" });
  const orchard = el("conference", { jid: "orchard@conference.localhost", name: "Orchard" });
  await server.iq("set", storeLegacy(play, orchard));
  const items = server.pep.items("juliet", NS_BOOKMARKS2);
  assert.deepEqual(items.map((item) => item.id), [
    "play@conference.localhost",
    "orchard@conference.localhost",
  ]);
  // XEP-0411 §5, XEP-0402 §3.3: only the owner may access it; every item kept.
  const reply = await server.iq(
    "get",
    el(
      "pubsub",
      { xmlns: NS.PUBSUB_OWNER },
      el("configure", { node: NS_BOOKMARKS2 }),
    ),
  );
  const values = new Map(
    reply.getChild("pubsub", NS.PUBSUB_OWNER)!.getChild("configure")!.getChild("x", NS.DATA_FORMS)!
      .getChildren("field").map((field) => [field.attrs.var, field.getChildText("value")]),
  );
  assert.equal(values.get("pubsub#access_model"), "whitelist");
  assert.equal(values.get("pubsub#max_items"), "max");
  assert.equal(values.get("pubsub#persist_items"), "1");

  // XEP-0402 §5.3.2: storing the list again leaves unchanged items alone, retracts removed ones.
  const before = items[0].published;
  await new Promise((resolve) => setTimeout(resolve, 5));
  await server.iq("set", storeLegacy(play));
  const after = server.pep.items("juliet", NS_BOOKMARKS2);
  assert.deepEqual(after.map((item) => item.id), ["play@conference.localhost"]);
  assert.equal(after[0].published, before);
});

Deno.test("a bookmarks:1 publish and retract update the private XML copy, keeping <url/>", async () => {
  await using server = await start();
  const url = el("url", { name: "Verona", url: "https://verona.example" });
  await server.iq("set", storeLegacy(url));
  await server.iq(
    "set",
    publish2(
      "play@conference.localhost",
      el("conference", { xmlns: NS_BOOKMARKS2, name: "The Play" }, el("nick", {}, "JC")),
    ),
  );
  assert.equal(
    server.privateStorage.get("juliet", "storage", NS_LEGACY)?.toString(),
    el(
      "storage",
      { xmlns: NS_LEGACY },
      el(
        "conference",
        { jid: "play@conference.localhost", name: "The Play" },
        el("nick", {}, "JC"),
      ),
      url,
    ).toString(),
  );
  // The conversion's own write did not convert back: still the one item.
  assert.equal(server.pep.items("juliet", NS_BOOKMARKS2).length, 1);
  await server.iq("set", retract2("play@conference.localhost"));
  assert.equal(
    server.privateStorage.get("juliet", "storage", NS_LEGACY)?.toString(),
    el("storage", { xmlns: NS_LEGACY }, url).toString(),
  );
});

Deno.test("other private XML and other nodes are left alone", async () => {
  await using server = await start();
  await server.iq(
    "set",
    el("query", { xmlns: NS.PRIVATE }, el("prefs", { xmlns: "exodus:prefs" })),
  );
  assert.deepEqual(server.pep.items("juliet", NS_BOOKMARKS2), []);
  await server.iq(
    "set",
    el(
      "pubsub",
      { xmlns: NS.PUBSUB },
      el(
        "publish",
        { node: "urn:xmpp:tune" },
        el("item", { id: "current" }, el("tune", { xmlns: "http://jabber.org/protocol/tune" })),
      ),
    ),
  );
  assert.equal(server.privateStorage.get("juliet", "storage", NS_LEGACY), null);
});

Deno.test("the module advertises #compat, #compat-pep and XEP-0411's conversion on accounts; #compat-pep alone without private storage", async () => {
  {
    await using server = await start();
    const features = await server.features();
    for (const feature of [COMPAT_PEP_FEATURE, ...PRIVATE_XML_FEATURES]) {
      assert.ok(features.includes(feature), features.join(" "));
    }
  }
  await using server = await start(false);
  const features = await server.features();
  assert.ok(features.includes(COMPAT_PEP_FEATURE));
  for (const feature of PRIVATE_XML_FEATURES) assert.ok(!features.includes(feature));
});

const legacyPublish = (id: string, ...children: Element[]) =>
  el(
    "pubsub",
    { xmlns: NS.PUBSUB },
    el(
      "publish",
      { node: NS_LEGACY },
      el("item", { id }, el("storage", { xmlns: NS_LEGACY }, ...children)),
    ),
    el(
      "publish-options",
      {},
      el(
        "x",
        { xmlns: NS.DATA_FORMS, type: "submit" },
        el("field", { var: "FORM_TYPE" }, el("value", {}, NS.PUBSUB_PUBLISH_OPTIONS)),
        el("field", { var: "pubsub#access_model" }, el("value", {}, "whitelist")),
      ),
    ),
  );

Deno.test("#compat-pep: private XML is copied to the whitelist storage:bookmarks node, once per change", async () => {
  await using server = await start();
  const play = el("conference", { jid: "play@conference.localhost", autojoin: "true" });
  const url = el("url", { name: "Verona", url: "https://verona.example" });
  await server.iq("set", storeLegacy(play, url));
  const [item] = server.pep.items("juliet", NS_LEGACY);
  assert.equal(item.id, LEGACY_ITEM);
  assert.ok(sameXml(item.payload, el("storage", { xmlns: NS_LEGACY }, play, url)));
  assert.equal(server.pep.node("juliet", NS_LEGACY)?.accessModel, "whitelist");
  await new Promise((resolve) => setTimeout(resolve, 5));
  await server.iq("set", storeLegacy(play, url));
  assert.equal(server.pep.items("juliet", NS_LEGACY)[0].published, item.published);
});

Deno.test("#compat-pep: a legacy PEP publish updates XEP-0402 items and private XML, and is not republished", async () => {
  await using server = await start();
  const orchard = el("conference", { jid: "orchard@conference.localhost", name: "Orchard" });
  const url = el("url", { name: "Verona", url: "https://verona.example" });
  await server.iq("set", legacyPublish("current", orchard, url));
  assert.deepEqual(server.pep.items("juliet", NS_BOOKMARKS2).map((i) => i.id), [
    "orchard@conference.localhost",
  ]);
  assert.ok(
    sameXml(
      server.privateStorage.get("juliet", "storage", NS_LEGACY)!,
      el("storage", { xmlns: NS_LEGACY }, orchard, url),
    ),
  );
  const [item] = server.pep.items("juliet", NS_LEGACY);
  assert.equal(item.id, "current");

  // A XEP-0402 retract reaches the legacy PEP copy, the <url/> kept.
  await server.iq("set", retract2("orchard@conference.localhost"));
  assert.ok(
    sameXml(
      server.pep.items("juliet", NS_LEGACY)[0].payload,
      el("storage", { xmlns: NS_LEGACY }, url),
    ),
  );
});

Deno.test("#compat-pep without private storage, and a legacy node others may read is not written", async () => {
  await using server = await start(false);
  await server.iq(
    "set",
    publish2("play@conference.localhost", el("conference", { xmlns: NS_BOOKMARKS2 })),
  );
  assert.ok(
    sameXml(
      server.pep.items("juliet", NS_LEGACY)[0].payload,
      el("storage", { xmlns: NS_LEGACY }, el("conference", { jid: "play@conference.localhost" })),
    ),
  );
  // The owner opens the legacy node: the conversion stops writing to it.
  await server.iq(
    "set",
    el(
      "pubsub",
      { xmlns: NS.PUBSUB_OWNER },
      el(
        "configure",
        { node: NS_LEGACY },
        el(
          "x",
          { xmlns: NS.DATA_FORMS, type: "submit" },
          el("field", { var: "pubsub#access_model" }, el("value", {}, "presence")),
        ),
      ),
    ),
  );
  await server.iq("set", retract2("play@conference.localhost"));
  assert.equal(
    server.pep.items("juliet", NS_LEGACY)[0].payload.getChildren("conference").length,
    1,
  );
});

Deno.test("without pep the module starts, converts nothing and advertises nothing", async () => {
  using db = openDatabase(":memory:");
  const accounts = new Accounts(new SqliteAccountStore(db));
  const router = new Router({ domain: "localhost", accountExists: () => true, log: () => {} });
  const running = await startModules([DISCO_MODULE, PRIVATE_STORAGE_MODULE, BOOKMARKS_MODULE], {
    router,
    db,
    accounts,
    server: { domain: "localhost", mucDomain: "conference.localhost", admins: [] },
    log: () => {},
    section: (name) =>
      (name === "private_storage"
        ? { enabled: true, maxBytes: 4096, maxElements: 8 }
        : { enabled: true }) as never,
  });
  assert.ok(running.has("bookmarks"));
  const { session, received } = recordingSession("juliet@localhost/balcony", {
    id: "s1",
    presence: null,
  });
  router.bind(session);
  await router.route(
    el(
      "iq",
      { type: "get", id: "d", from: session.jid.full },
      el("query", { xmlns: NS.DISCO_INFO }),
    ),
    session,
  );
  const features = received.pop()!.getChild("query", NS.DISCO_INFO)!.getChildren("feature");
  assert.ok(!features.some((f) => f.attrs.var?.startsWith(NS_BOOKMARKS2)));
  await running.stop();
});
