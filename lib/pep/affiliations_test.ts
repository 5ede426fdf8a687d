import { strict as assert } from "node:assert";
import { NS } from "../stanza/ns.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { el, type Element } from "../xml/element.ts";
import { readAffiliationChanges } from "./affiliations.ts";
import {
  lastIq,
  publishOptions,
  pubsubIq,
  startHarness,
  takeEvents,
  type TestSession,
} from "./_harness.ts";

const NOTES = "urn:example:notes";

function note(text: string): Element {
  return el("note", { xmlns: NOTES }, text);
}

function ownerIq(type: "get" | "set", child: Element, to?: string): Element {
  return el("iq", { type, id: "o", to }, el("pubsub", { xmlns: NS.PUBSUB_OWNER }, child));
}

function affiliations(node: string, entries: Record<string, string>): Element {
  return el(
    "affiliations",
    { node },
    ...Object.entries(entries).map(([jid, affiliation]) => el("affiliation", { jid, affiliation })),
  );
}

function outcome(iq: Element): string {
  if (iq.attrs.type === "result") return "ok";
  return iq.getChild("error")!.elements().filter((e) => e.name !== "text").map((e) => e.name)
    .join(" ");
}

/** A whitelist node "notes" of juliet with one item. */
async function whitelistNode() {
  const db = openDatabase(":memory:");
  const h = await startHarness(db, ["juliet", "romeo", "nurse", "tybalt"]);
  const juliet = h.bind("juliet@localhost/balcony");
  const options = publishOptions({ "pubsub#access_model": "whitelist", "pubsub#max_items": "10" });
  await h.send(
    juliet,
    pubsubIq(
      "set",
      undefined,
      el("publish", { node: "notes" }, el("item", { id: "1" }, note("one"))),
      options,
    ),
  );
  assert.equal(outcome(lastIq(juliet)), "ok");
  const ask = async (who: TestSession, stanza: Element) => {
    await h.send(who, stanza);
    return lastIq(who);
  };
  return { db, h, juliet, ask };
}

Deno.test("readAffiliationChanges: bare JIDs, none, no change without affiliation, refusals", () => {
  const owner = "juliet@localhost";
  const changes = readAffiliationChanges(
    affiliations("n", {
      "romeo@localhost/orchard": "member",
      "tybalt@localhost": "outcast",
      "nurse@localhost": "none",
      [owner]: "owner",
    }).append(el("affiliation", { jid: "paris@localhost" })),
    owner,
  );
  assert.deepEqual([...changes], [
    ["romeo@localhost", "member"],
    ["tybalt@localhost", "outcast"],
    ["nurse@localhost", "none"],
  ]);
  const refused = (entries: Record<string, string>) => {
    try {
      readAffiliationChanges(affiliations("n", entries), owner);
      return "ok";
    } catch (error) {
      return (error as { condition: string }).condition;
    }
  };
  assert.equal(refused({ [owner]: "member" }), "not-acceptable");
  assert.equal(refused({ "romeo@localhost": "owner" }), "not-acceptable");
  assert.equal(refused({ "romeo@localhost": "king" }), "not-acceptable");
  assert.equal(refused({ "romeo@localhost": "publish-only" }), "feature-not-implemented");
  assert.equal(refused({ "@@": "member" }), "not-acceptable");
});

Deno.test("a whitelist node's members retrieve items and get events; outcasts and others are refused (XEP-0060 §4.1, §8.9)", async () => {
  const { db, h, juliet, ask } = await whitelistNode();
  const romeo = h.bind("romeo@localhost/orchard");
  const tybalt = h.bind("tybalt@localhost/street");
  const items = pubsubIq("get", "juliet@localhost", el("items", { node: "notes" }));
  assert.equal(outcome(await ask(romeo, items.clone())), "not-allowed closed-node");

  assert.equal(
    outcome(
      await ask(
        juliet,
        ownerIq(
          "set",
          affiliations("notes", {
            "romeo@localhost": "member",
            "tybalt@localhost": "outcast",
          }),
        ),
      ),
    ),
    "ok",
  );
  const list = await ask(juliet, ownerIq("get", el("affiliations", { node: "notes" })));
  assert.deepEqual(
    list.getChild("pubsub", NS.PUBSUB_OWNER)!.getChild("affiliations")!.getChildren("affiliation")
      .map((a) => `${a.attrs.jid} ${a.attrs.affiliation}`),
    ["juliet@localhost owner", "romeo@localhost member", "tybalt@localhost outcast"],
  );
  assert.equal(outcome(await ask(romeo, items.clone())), "ok");
  assert.equal(outcome(await ask(tybalt, items.clone())), "forbidden");

  // A member subscribes and is notified; the owner then makes it an outcast, which ends it.
  const subscribe = pubsubIq(
    "set",
    "juliet@localhost",
    el("subscribe", { node: "notes", jid: "romeo@localhost/orchard" }),
  );
  assert.equal(outcome(await ask(romeo, subscribe)), "ok");
  await new Promise((resolve) => setTimeout(resolve, 5));
  takeEvents(romeo);
  const publish = (id: string) =>
    pubsubIq("set", undefined, el("publish", { node: "notes" }, el("item", { id }, note(id))));
  await ask(juliet, publish("2"));
  assert.equal(takeEvents(romeo).length, 1);
  await ask(juliet, ownerIq("set", affiliations("notes", { "romeo@localhost": "outcast" })));
  await ask(juliet, publish("3"));
  assert.equal(takeEvents(romeo).length, 0);
  await ask(juliet, ownerIq("set", affiliations("notes", { "romeo@localhost": "member" })));
  await ask(juliet, publish("4"));
  assert.equal(takeEvents(romeo).length, 0, "the subscription went with the outcast");

  // Only the owner manages; an unknown node is item-not-found.
  assert.equal(
    outcome(
      await ask(
        romeo,
        ownerIq("get", el("affiliations", { node: "notes" }), "juliet@localhost"),
      ),
    ),
    "forbidden",
  );
  assert.equal(
    outcome(await ask(juliet, ownerIq("get", el("affiliations", { node: "nothing" })))),
    "item-not-found",
  );
  await h.running.stop();
  db.close();
});

Deno.test("affiliation changes are all or nothing and bounded per node; they persist", async () => {
  const { db, h, juliet, ask } = await whitelistNode();
  const set = (entries: Record<string, string>) =>
    ask(juliet, ownerIq("set", affiliations("notes", entries)));
  assert.equal(
    outcome(await set({ "romeo@localhost": "member", "juliet@localhost": "none" })),
    "not-acceptable",
  );
  assert.equal(
    outcome(
      await set({
        "romeo@localhost": "member",
        "nurse@localhost": "member",
        "tybalt@localhost": "outcast",
        "paris@localhost": "member",
      }),
    ),
    "resource-constraint",
  );
  const list = async () =>
    (await ask(juliet, ownerIq("get", el("affiliations", { node: "notes" }))))
      .getChild("pubsub", NS.PUBSUB_OWNER)!.getChild("affiliations")!.getChildren("affiliation")
      .length;
  assert.equal(await list(), 1);
  assert.equal(outcome(await set({ "romeo@localhost": "member" })), "ok");
  await h.running.stop();

  const again = await startHarness(db, ["juliet", "romeo"]);
  const romeo = again.bind("romeo@localhost/orchard");
  await again.send(romeo, pubsubIq("get", "juliet@localhost", el("items", { node: "notes" })));
  assert.equal(outcome(lastIq(romeo)), "ok");
  await again.running.stop();
  db.close();
});

Deno.test("entities retrieve their own affiliations (XEP-0060 §5.7); a publisher publishes to an existing node", async () => {
  const { db, h, juliet, ask } = await whitelistNode();
  const romeo = h.bind("romeo@localhost/orchard");
  const nurse = h.bind("nurse@localhost/kitchen");
  await ask(juliet, ownerIq("set", affiliations("notes", { "romeo@localhost": "publisher" })));
  const mine = async (who: TestSession, node?: string) =>
    (await ask(who, pubsubIq("get", "juliet@localhost", el("affiliations", { node }))))
      .getChild("pubsub", NS.PUBSUB)!.getChild("affiliations")!.getChildren("affiliation")
      .map((a) => `${a.attrs.node} ${a.attrs.affiliation}`);
  assert.deepEqual(await mine(romeo), ["notes publisher"]);
  assert.deepEqual(await mine(nurse), []);
  assert.deepEqual(await mine(juliet), ["notes owner"]);
  assert.deepEqual(await mine(juliet, "other"), []);

  const publish = (node: string) =>
    pubsubIq(
      "set",
      "juliet@localhost",
      el("publish", { node }, el("item", { id: "r" }, note("from romeo"))),
    );
  assert.equal(outcome(await ask(romeo, publish("notes"))), "ok");
  assert.equal(outcome(await ask(romeo, publish("elsewhere"))), "forbidden");
  assert.equal(outcome(await ask(nurse, publish("notes"))), "forbidden");
  const items = await ask(juliet, pubsubIq("get", undefined, el("items", { node: "notes" })));
  assert.deepEqual(
    items.getChild("pubsub", NS.PUBSUB)!.getChild("items")!.getChildren("item").map((i) =>
      i.attrs.id
    ),
    ["1", "r"],
  );
  // The publisher's own subscription sees its name on the event (§7.1.2.3).
  const subscribed = await ask(
    romeo,
    pubsubIq(
      "set",
      "juliet@localhost",
      el("subscribe", { node: "notes", jid: "romeo@localhost/orchard" }),
    ),
  );
  assert.equal(outcome(subscribed), "ok", subscribed.toString());
  await new Promise((resolve) => setTimeout(resolve, 5));
  const [last] = takeEvents(romeo);
  assert.equal(
    last.getChild("event", NS.PUBSUB_EVENT)!.getChild("items")!.getChild("item")!.attrs.publisher,
    "romeo@localhost",
  );
  assert.equal(
    outcome(
      await ask(
        romeo,
        pubsubIq(
          "set",
          "juliet@localhost",
          el("retract", { node: "notes" }, el("item", { id: "r" })),
        ),
      ),
    ),
    "ok",
  );
  await h.running.stop();
  db.close();
});
