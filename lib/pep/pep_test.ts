import { strict as assert } from "node:assert";
import { assertStanza } from "../replay/match.ts";
import { NS } from "../stanza/ns.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { el, type Element } from "../xml/element.ts";
import { lastIq, publishOptions, pubsubIq, startHarness, takeEvents } from "./_harness.ts";
import { SqlitePepStore } from "./pep_store.ts";

const TUNE = "http://jabber.org/protocol/tune";

function tune(title: string): Element {
  return el("tune", { xmlns: TUNE }, el("title", {}, title));
}

function publish(node: string, id: string | undefined, payload: Element, options?: Element) {
  return pubsubIq(
    "set",
    undefined,
    el("publish", { node }, el("item", { id }, payload)),
    ...(options ? [options] : []),
  );
}

/** As the stream would serialize it, in jabber:client. */
function client(stanza: Element): Element {
  return stanza.clone({ ...stanza.attrs, xmlns: NS.CLIENT });
}

function errorOf(iq: Element): string {
  assert.equal(iq.attrs.type, "error", iq.toString());
  return iq.getChild("error")!.elements().filter((e) => e.name !== "text").map((e) => e.name)
    .join(" ");
}

Deno.test("a publish notifies, once each, the owner's and contacts' resources with +notify, at their full JID", async () => {
  using db = openDatabase(":memory:");
  const h = await startHarness(db, ["juliet", "romeo", "nurse", "mercutio"]);
  h.befriend("juliet", "romeo");
  h.befriend("juliet", "nurse");
  const juliet = h.bind("juliet@localhost/balcony");
  const romeo = h.bind("romeo@localhost/orchard");
  const romeoPhone = h.bind("romeo@localhost/phone");
  const nurse = h.bind("nurse@localhost/kitchen");
  const mercutio = h.bind("mercutio@localhost/street");
  await h.available(juliet, [`${TUNE}+notify`]);
  await h.available(romeo, [`${TUNE}+notify`]);
  await h.available(romeoPhone, []); // no +notify: filtered (XEP-0163 §4.2)
  await h.available(nurse, ["urn:other+notify"]);
  await h.available(mercutio, [`${TUNE}+notify`]); // not a contact
  for (const s of [juliet, romeo, romeoPhone, nurse, mercutio]) s.received.length = 0;

  await h.send(juliet, publish(TUNE, "now", tune("Dance")));
  assertStanza(
    client(lastIq(juliet)),
    `<iq type='result' id='q'><pubsub xmlns='${NS.PUBSUB}'><publish node='${TUNE}'><item id='now'/></publish></pubsub></iq>`,
  );
  const [toRomeo, ...more] = takeEvents(romeo);
  assert.equal(more.length, 0);
  assertStanza(
    client(toRomeo),
    `<message type='headline' from='juliet@localhost' to='romeo@localhost/orchard'>
      <event xmlns='${NS.PUBSUB_EVENT}'><items node='${TUNE}'>
        <item id='now' publisher='juliet@localhost'><tune xmlns='${TUNE}'><title>Dance</title></tune></item>
      </items></event></message>`,
  );
  assert.equal(takeEvents(juliet).length, 1);
  for (const s of [romeoPhone, nurse, mercutio]) assert.deepEqual(takeEvents(s), [], s.jid.full);
  await h.running.stop();
});

Deno.test("items persist in SQLite across a restart; a new resource with +notify gets the last one, delayed", async () => {
  using db = openDatabase(":memory:");
  const first = await startHarness(db, ["juliet", "romeo"]);
  first.befriend("juliet", "romeo");
  const juliet = first.bind("juliet@localhost/balcony");
  await first.send(
    juliet,
    publish(TUNE, "a", tune("One"), publishOptions({ "pubsub#max_items": "5" })),
  );
  await first.send(juliet, publish(TUNE, "b", tune("Two")));
  await first.running.stop();

  const again = await startHarness(db, ["juliet", "romeo"]);
  const romeo = again.bind("romeo@localhost/orchard");
  await again.available(romeo, [`${TUNE}+notify`]);
  const [last, ...more] = takeEvents(romeo);
  assert.equal(more.length, 0);
  assertStanza(
    client(last),
    `<message type='headline' from='juliet@localhost' to='romeo@localhost/orchard'>
      <event xmlns='${NS.PUBSUB_EVENT}'><items node='${TUNE}'>
        <item id='b' publisher='juliet@localhost'><tune xmlns='${TUNE}'><title>Two</title></tune></item>
      </items></event>
      <delay xmlns='${NS.DELAY}' stamp='{scansion:any}'/></message>`,
  );
  // A second available presence with the same caps sends nothing again (XEP-0163 §4.3.3).
  await again.send(
    romeo,
    el("presence", {}, el("show", {}, "away"), romeo.presence!.getChild("c", NS.CAPS)!),
  );
  assert.deepEqual(takeEvents(romeo), []);
  await again.send(romeo, pubsubIq("get", "juliet@localhost", el("items", { node: TUNE })));
  const items = lastIq(romeo).getChild("pubsub", NS.PUBSUB)!.getChild("items")!;
  assert.deepEqual(items.getChildren("item").map((i) => i.attrs.id), ["a", "b"]);
  await again.running.stop();
});

Deno.test("access models: presence, roster groups, whitelist and open, for items and errors (XEP-0060 §6.5.9)", async () => {
  using db = openDatabase(":memory:");
  const h = await startHarness(db, ["juliet", "romeo", "nurse", "mercutio"]);
  h.befriend("juliet", "romeo", ["Lovers"]);
  h.befriend("juliet", "nurse", ["Household"]);
  const juliet = h.bind("juliet@localhost/balcony");
  const romeo = h.bind("romeo@localhost/orchard");
  const nurse = h.bind("nurse@localhost/kitchen");
  const mercutio = h.bind("mercutio@localhost/street");
  const nodes: [string, Record<string, string>][] = [
    ["presence", {}],
    ["roster", { "pubsub#access_model": "roster", "pubsub#roster_groups_allowed": "Lovers" }],
    ["whitelist", { "pubsub#access_model": "whitelist" }],
    ["open", { "pubsub#access_model": "open" }],
  ];
  for (const [node, options] of nodes) {
    await h.send(juliet, publish(node, "x", tune(node), publishOptions(options)));
  }
  const read = async (who: typeof romeo, node: string) => {
    await h.send(who, pubsubIq("get", "juliet@localhost", el("items", { node })));
    const iq = lastIq(who);
    return iq.attrs.type === "result" ? "ok" : errorOf(iq);
  };
  assert.equal(await read(romeo, "presence"), "ok");
  assert.equal(await read(mercutio, "presence"), "not-authorized presence-subscription-required");
  assert.equal(await read(romeo, "roster"), "ok");
  assert.equal(await read(nurse, "roster"), "not-authorized not-in-roster-group");
  assert.equal(await read(romeo, "whitelist"), "not-allowed closed-node");
  assert.equal(await read(juliet, "whitelist"), "ok");
  assert.equal(await read(mercutio, "open"), "ok");
  // Only the owner publishes.
  const intrusion = publish("x", "y", tune("no"));
  intrusion.attrs.to = "juliet@localhost";
  await h.send(romeo, intrusion);
  assert.equal(errorOf(lastIq(romeo)), "forbidden");
  await h.running.stop();
});

Deno.test("publish errors: node limit, payload size, no item, precondition-not-met, unknown option", async () => {
  using db = openDatabase(":memory:");
  const h = await startHarness(db, ["juliet"]);
  const juliet = h.bind("juliet@localhost/balcony");
  const attempt = async (stanza: Element) => {
    await h.send(juliet, stanza);
    const iq = lastIq(juliet);
    return iq.attrs.type === "result" ? "ok" : errorOf(iq);
  };
  assert.equal(await attempt(publish("a", "1", tune("a"))), "ok");
  assert.equal(
    await attempt(publish("a", "2", tune("a"), publishOptions({ "pubsub#access_model": "open" }))),
    "conflict precondition-not-met",
  );
  assert.equal(
    await attempt(
      publish("a", "2", tune("a"), publishOptions({ "pubsub#access_model": "presence" })),
    ),
    "ok",
  );
  assert.equal(
    await attempt(publish("b", "1", tune("b"), publishOptions({ "pubsub#bogus": "1" }))),
    "conflict precondition-not-met",
  );
  assert.equal(
    await attempt(publish("b", "1", tune("x".repeat(3000)))),
    "not-acceptable payload-too-big",
  );
  assert.equal(
    await attempt(pubsubIq("set", undefined, el("publish", { node: "b" }))),
    "bad-request item-required",
  );
  assert.equal(await attempt(publish("b", "1", tune("b"))), "ok");
  assert.equal(await attempt(publish("c", "1", tune("c"))), "ok");
  assert.equal(await attempt(publish("d", "1", tune("d"))), "ok");
  assert.equal(await attempt(publish("e", "1", tune("e"))), "not-allowed max-nodes-exceeded");
  await h.running.stop();
});

Deno.test("owner operations: configure form, delete and purge notify; the account's disco shows pubsub/pep and its nodes", async () => {
  using db = openDatabase(":memory:");
  const h = await startHarness(db, ["juliet"]);
  const juliet = h.bind("juliet@localhost/balcony");
  await h.available(juliet, [`${TUNE}+notify`]);
  await h.send(juliet, publish(TUNE, "1", tune("a")));
  juliet.received.length = 0;
  const owner = (child: Element) =>
    el("iq", {
      type: child.name === "configure" && child.elements().length === 0 ? "get" : "set",
      id: "o",
    }, el("pubsub", { xmlns: NS.PUBSUB_OWNER }, child));
  await h.send(juliet, owner(el("configure", { node: TUNE })));
  const form = lastIq(juliet).getChild("pubsub", NS.PUBSUB_OWNER)!.getChild("configure")!.getChild(
    "x",
    NS.DATA_FORMS,
  )!;
  const value = (v: string) =>
    form.getChildren("field").find((f) => f.attrs.var === v)?.getChildText("value");
  assert.equal(value("pubsub#access_model"), "presence");
  assert.equal(value("pubsub#max_items"), "1");
  assert.equal(value("pubsub#send_last_published_item"), "on_sub_and_presence");

  await h.send(
    juliet,
    el(
      "iq",
      { type: "get", id: "d", to: "juliet@localhost" },
      el("query", { xmlns: NS.DISCO_INFO }),
    ),
  );
  const info = lastIq(juliet).getChild("query", NS.DISCO_INFO)!;
  assert.ok(
    info.getChildren("identity").some((i) =>
      i.attrs.category === "pubsub" && i.attrs.type === "pep"
    ),
  );
  const features = info.getChildren("feature").map((f) => f.attrs.var);
  assert.ok(features.includes(`${NS.PUBSUB}#publish-options`));
  await h.send(
    juliet,
    el(
      "iq",
      { type: "get", id: "d", to: "juliet@localhost" },
      el("query", { xmlns: NS.DISCO_ITEMS }),
    ),
  );
  assert.deepEqual(
    lastIq(juliet).getChild("query", NS.DISCO_ITEMS)!.getChildren("item").map((i) => i.attrs.node),
    [TUNE],
  );

  await h.send(
    juliet,
    el(
      "iq",
      { type: "get", id: "d", to: "juliet@localhost" },
      el("query", { xmlns: NS.DISCO_INFO, node: TUNE }),
    ),
  );
  const nodeInfo = lastIq(juliet).getChild("query", NS.DISCO_INFO)!;
  assert.equal(nodeInfo.attrs.node, TUNE);
  assert.equal(nodeInfo.getChild("identity")!.attrs.type, "leaf");

  await h.send(juliet, owner(el("purge", { node: TUNE })));
  assert.equal(lastIq(juliet).attrs.type, "result");
  assert.ok(takeEvents(juliet)[0].getChild("event", NS.PUBSUB_EVENT)!.getChild("purge"));
  await h.send(juliet, owner(el("delete", { node: TUNE })));
  assert.equal(lastIq(juliet).attrs.type, "result");
  assert.ok(takeEvents(juliet)[0].getChild("event", NS.PUBSUB_EVENT)!.getChild("delete"));
  assert.deepEqual(new SqlitePepStore(db).nodes("juliet"), []);
  await h.running.stop();
});

Deno.test("nodes and items go with the account (ON DELETE CASCADE)", async () => {
  using db = openDatabase(":memory:");
  const h = await startHarness(db, ["juliet"]);
  const juliet = h.bind("juliet@localhost/balcony");
  await h.send(juliet, publish(TUNE, "1", tune("a")));
  const store = new SqlitePepStore(db);
  assert.equal(store.items("juliet", TUNE).length, 1);
  h.accounts.remove("juliet");
  assert.deepEqual(store.nodes("juliet"), []);
  assert.equal(db.prepare("SELECT COUNT(*) AS n FROM pep_items").get()!.n, 0);
  await h.running.stop();
});

Deno.test("a new subscriber's resources with +notify get the last items once the owner approves (XEP-0163 §4.3.4)", async () => {
  using db = openDatabase(":memory:");
  const h = await startHarness(db, ["juliet", "romeo"]);
  const juliet = h.bind("juliet@localhost/balcony");
  const romeo = h.bind("romeo@localhost/orchard");
  await h.send(juliet, publish(TUNE, "now", tune("Dance")));
  await h.available(juliet, []);
  await h.available(romeo, [`${TUNE}+notify`]);
  assert.deepEqual(takeEvents(romeo), []);
  await h.send(romeo, el("presence", { to: "juliet@localhost", type: "subscribe" }));
  assert.deepEqual(takeEvents(romeo), []);
  await h.send(juliet, el("presence", { to: "romeo@localhost", type: "subscribed" }));
  await Promise.resolve();
  const [last, ...more] = takeEvents(romeo);
  assert.equal(more.length, 0);
  assert.equal(last.attrs.from, "juliet@localhost");
  assert.equal(last.attrs.to, "romeo@localhost/orchard");
  await h.running.stop();
});

Deno.test("explicit subscriptions: a non-contact subscribes to an open node, gets the last item and events, then unsubscribes (XEP-0060 §6.1, §6.2)", async () => {
  using db = openDatabase(":memory:");
  const h = await startHarness(db, ["romeo", "mercutio"]);
  const romeo = h.bind("romeo@localhost/orchard");
  const mercutio = h.bind("mercutio@localhost/street");
  await h.available(mercutio, []);
  const node = "urn:xmpp:omemo:2:devices";
  const devices = (id: string) =>
    el("devices", { xmlns: "urn:xmpp:omemo:2" }, el("device", { id }));
  await h.send(
    romeo,
    publish(node, "current", devices("1"), publishOptions({ "pubsub#access_model": "open" })),
  );
  await h.send(romeo, publish("private", "x", tune("x")));
  const ask = async (child: Element, type: "get" | "set" = "set") => {
    await h.send(mercutio, pubsubIq(type, "romeo@localhost", child));
    await new Promise((resolve) => setTimeout(resolve, 0));
    const iq = lastIq(mercutio);
    return iq.attrs.type === "result" ? iq : errorOf(iq);
  };
  assert.equal(
    await ask(el("subscribe", { node, jid: "romeo@localhost" })),
    "bad-request invalid-jid",
  );
  assert.equal(
    await ask(el("subscribe", { node: "private", jid: "mercutio@localhost" })),
    "not-authorized presence-subscription-required",
  );
  const subscribed = await ask(el("subscribe", { node, jid: "mercutio@localhost" })) as Element;
  assertStanza(
    client(subscribed),
    `<iq type='result'><pubsub xmlns='${NS.PUBSUB}'><subscription node='${node}' jid='mercutio@localhost' subscription='subscribed'/></pubsub></iq>`,
  );
  const [last] = takeEvents(mercutio);
  assert.equal(last.attrs.to, "mercutio@localhost");
  await h.send(romeo, publish(node, "current", devices("2")));
  const events = takeEvents(mercutio);
  assert.equal(events.length, 1);
  assert.equal(events[0].attrs.to, "mercutio@localhost");
  const list = await ask(el("subscriptions"), "get") as Element;
  assert.deepEqual(
    list.getChild("pubsub", NS.PUBSUB)!.getChild("subscriptions")!.getChildren("subscription")
      .map((s) => s.attrs.node),
    [node],
  );
  assert.equal(
    (await ask(el("unsubscribe", { node, jid: "mercutio@localhost" })) as Element).attrs.type,
    "result",
  );
  assert.equal(
    await ask(el("unsubscribe", { node, jid: "mercutio@localhost" })),
    "unexpected-request not-subscribed",
  );
  await h.send(romeo, publish(node, "current", devices("3")));
  assert.deepEqual(takeEvents(mercutio), []);
  await h.running.stop();
});
