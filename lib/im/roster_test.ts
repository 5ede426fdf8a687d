import { strict as assert } from "node:assert";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el } from "../xml/element.ts";
import { readRosterSet } from "./roster.ts";

const query = (...items: ReturnType<typeof el>[]) => el("query", { xmlns: NS.ROSTER }, ...items);

Deno.test("readRosterSet() ignores a 'subscription' other than remove (RFC 6121 §2.1.2.5)", () => {
  for (const subscription of ["none", "both", "to", "from", "bogus"]) {
    const set = readRosterSet(
      query(el("item", { jid: "nurse@localhost", subscription, ask: "subscribe" })),
    );
    assert.deepEqual(set, { remove: false, jid: "nurse@localhost", name: undefined, groups: [] });
  }
  assert.deepEqual(
    readRosterSet(query(el("item", { jid: "nurse@localhost", subscription: "remove" }))),
    { remove: true, jid: "nurse@localhost" },
  );
});

Deno.test("readRosterSet() rejects two items, a full JID and duplicate groups with bad-request (§2.3.3)", () => {
  const condition = (f: () => unknown) => {
    try {
      f();
    } catch (error) {
      assert.ok(error instanceof StanzaError);
      return error.condition;
    }
    assert.fail("no error");
  };
  assert.equal(
    condition(() =>
      readRosterSet(query(el("item", { jid: "a@localhost" }), el("item", { jid: "b@localhost" })))
    ),
    "bad-request",
  );
  assert.equal(
    condition(() => readRosterSet(query(el("item", { jid: "a@localhost/r" })))),
    "bad-request",
  );
  assert.equal(
    condition(() =>
      readRosterSet(
        query(el("item", { jid: "a@localhost" }, el("group", {}, "G"), el("group", {}, "G"))),
      )
    ),
    "bad-request",
  );
});
