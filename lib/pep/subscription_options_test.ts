import { strict as assert } from "node:assert";
import { NS } from "../stanza/ns.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { el, type Element } from "../xml/element.ts";
import { readSubscriptionOptions, subscriptionOptionsForm } from "./subscription_options.ts";
import {
  lastIq,
  publishOptions,
  pubsubIq,
  startHarness,
  submitForm,
  takeEvents,
} from "./_harness.ts";

const submit = (fields: Record<string, string>, formType: string = NS.PUBSUB_SUBSCRIBE_OPTIONS) =>
  submitForm(formType, fields);

function outcome(iq: Element): string {
  if (iq.attrs.type === "result") return "ok";
  return iq.getChild("error")!.elements().filter((e) => e.name !== "text").map((e) => e.name)
    .join(" ");
}

Deno.test("subscription options: the form, a submission, and invalid ones (XEP-0060 §6.3.5)", () => {
  const form = subscriptionOptionsForm({ deliver: false }, "form");
  assert.equal(form.attrs.type, "form");
  const deliver = form.getChildren("field").find((f) => f.attrs.var === "pubsub#deliver")!;
  assert.equal(deliver.getChildText("value"), "0");
  assert.deepEqual(
    readSubscriptionOptions(submit({ "pubsub#deliver": "false" }), { deliver: true }),
    {
      deliver: false,
    },
  );
  assert.deepEqual(readSubscriptionOptions(submit({}), { deliver: false }), { deliver: false });
  for (
    const bad of [
      undefined,
      submit({ "pubsub#digest": "1" }),
      submit({ "pubsub#deliver": "maybe" }),
      submit({}, "urn:other"),
    ]
  ) {
    assert.throws(
      () => readSubscriptionOptions(bad, { deliver: true }),
      (error: { condition?: string }) => error.condition === "bad-request",
    );
  }
});

Deno.test("a subscriber turns delivery off and on, or subscribes with it off (§6.3.2, §6.3.5, §6.3.7)", async () => {
  using db = openDatabase(":memory:");
  const h = await startHarness(db, ["juliet", "mercutio"]);
  const juliet = h.bind("juliet@localhost/balcony");
  const mercutio = h.bind("mercutio@localhost/street");
  const open = publishOptions({ "pubsub#access_model": "open" });
  const publish = (id: string) =>
    pubsubIq(
      "set",
      undefined,
      el("publish", { node: "n" }, el("item", { id }, el("x", { xmlns: "urn:x" }))),
      open.clone(),
    );
  await h.send(juliet, publish("1"));
  const ask = async (stanza: Element) => {
    await h.send(mercutio, stanza);
    return lastIq(mercutio);
  };
  const jid = "mercutio@localhost/street";
  const options = (type: "get" | "set", form?: Element) =>
    pubsubIq("set", "juliet@localhost", el("options", { node: "n", jid }, form)).clone({
      type,
      id: "o",
      to: "juliet@localhost",
    });
  assert.equal(outcome(await ask(options("get"))), "unexpected-request not-subscribed");
  await ask(pubsubIq("set", "juliet@localhost", el("subscribe", { node: "n", jid })));
  await new Promise((resolve) => setTimeout(resolve, 5));
  takeEvents(mercutio);

  const form = (await ask(options("get"))).getChild("pubsub", NS.PUBSUB)!.getChild("options")!;
  assert.equal(form.attrs.jid, jid);
  assert.ok(form.getChild("x", NS.DATA_FORMS));
  assert.equal(
    outcome(await ask(options("set", submit({ "pubsub#deliver": "0" })))),
    "ok",
  );
  await h.send(juliet, publish("2"));
  assert.equal(takeEvents(mercutio).length, 0);
  assert.equal(outcome(await ask(options("set", submit({ "pubsub#deliver": "1" })))), "ok");
  await h.send(juliet, publish("3"));
  assert.equal(takeEvents(mercutio).length, 1);
  assert.equal(
    outcome(await ask(options("set", submit({ "pubsub#bogus": "1" })))),
    "bad-request invalid-options",
  );
  const other = el("options", { node: "n", jid: "juliet@localhost" });
  assert.equal(
    outcome(await ask(pubsubIq("get", "juliet@localhost", other))),
    "bad-request invalid-jid",
  );

  // Subscribe and configure at once, for the bare JID: the result carries the options.
  const both = pubsubIq(
    "set",
    "juliet@localhost",
    el("subscribe", { node: "n", jid: "mercutio@localhost" }),
    el("options", {}, submit({ "pubsub#deliver": "false" })),
  );
  const reply = await ask(both);
  assert.equal(outcome(reply), "ok");
  assert.ok(reply.getChild("pubsub", NS.PUBSUB)!.getChild("options")!.getChild("x", NS.DATA_FORMS));
  await h.running.stop();
});
