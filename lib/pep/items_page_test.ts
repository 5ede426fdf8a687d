import { strict as assert } from "node:assert";
import { NS } from "../stanza/ns.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { el, type Element } from "../xml/element.ts";
import { readPageRequest } from "./items_page.ts";
import { lastIq, publishOptions, pubsubIq, startHarness } from "./_harness.ts";

function set(...children: Element[]): Element {
  return el(
    "pubsub",
    { xmlns: NS.PUBSUB },
    el("items", { node: "n" }),
    el("set", { xmlns: NS.RSM }, ...children),
  );
}

Deno.test("readPageRequest: max bounded, after, before, the last page, index; bad values", () => {
  assert.equal(readPageRequest(el("pubsub", {}, el("items", { node: "n" })), 10), undefined);
  assert.deepEqual(readPageRequest(set(), 10), { start: {}, max: 10 });
  assert.deepEqual(readPageRequest(set(el("max", {}, "500")), 10), { start: {}, max: 10 });
  assert.deepEqual(readPageRequest(set(el("max", {}, "2"), el("after", {}, "a")), 10), {
    start: { after: "a" },
    max: 2,
  });
  assert.deepEqual(readPageRequest(set(el("before", {})), 10), { start: { last: true }, max: 10 });
  assert.deepEqual(readPageRequest(set(el("before", {}, "b")), 10), {
    start: { before: "b" },
    max: 10,
  });
  assert.deepEqual(readPageRequest(set(el("index", {}, "4")), 10), {
    start: { index: 4 },
    max: 10,
  });
  assert.throws(() => readPageRequest(set(el("max", {}, "-1")), 10), /non-negative/);
  assert.throws(() => readPageRequest(set(el("after", {})), 10), /must name/);
});

Deno.test("items with RSM: pages in publish order with first, last and count (XEP-0060 §6.5.4)", async () => {
  using db = openDatabase(":memory:");
  const h = await startHarness(db, ["juliet"]);
  const juliet = h.bind("juliet@localhost/balcony");
  const options = publishOptions({ "pubsub#max_items": "10" });
  for (const id of ["a", "b", "c", "d", "e"]) {
    await h.send(
      juliet,
      pubsubIq(
        "set",
        undefined,
        el("publish", { node: "n" }, el("item", { id }, el("x", { xmlns: "urn:x" }, id))),
        options.clone(),
      ),
    );
  }
  const page = async (...children: Element[]) => {
    await h.send(
      juliet,
      el("iq", { type: "get", id: "p" }, set(...children)),
    );
    const iq = lastIq(juliet);
    if (iq.attrs.type !== "result") return iq.getChild("error")!.elements()[0].name;
    const pubsub = iq.getChild("pubsub", NS.PUBSUB)!;
    const rsm = pubsub.getChild("set", NS.RSM)!;
    return [
      pubsub.getChild("items")!.getChildren("item").map((i) => i.attrs.id).join(""),
      rsm.getChild("first")?.attrs.index,
      rsm.getChildText("first"),
      rsm.getChildText("last"),
      rsm.getChildText("count"),
    ].join(" ");
  };
  // The server's page bound (3 in the harness) applies without and above <max/>.
  assert.equal(await page(), "abc 0 a c 5");
  assert.equal(await page(el("max", {}, "100")), "abc 0 a c 5");
  assert.equal(await page(el("max", {}, "2"), el("after", {}, "b")), "cd 2 c d 5");
  assert.equal(await page(el("max", {}, "2"), el("before", {})), "de 3 d e 5");
  assert.equal(await page(el("max", {}, "2"), el("before", {}, "d")), "bc 1 b c 5");
  assert.equal(await page(el("max", {}, "2"), el("index", {}, "4")), "e 4 e e 5");
  assert.equal(await page(el("max", {}, "0")), "    5");
  assert.equal(await page(el("after", {}, "zz")), "item-not-found");
  await h.running.stop();
});
