import { strict as assert } from "node:assert";
import { assertStanza } from "../replay/match.ts";
import { el } from "../xml/element.ts";
import { MAX_BODY_CHARS, notificationIq } from "./notification.ts";

Deno.test("notificationIq() is the publish of XEP-0357 §7 with the summary and publish options", () => {
  const options = el(
    "x",
    { xmlns: "jabber:x:data", type: "submit" },
    el(
      "field",
      { var: "FORM_TYPE" },
      el("value", {}, "http://jabber.org/protocol/pubsub#publish-options"),
    ),
    el("field", { var: "secret" }, el("value", {}, "s3")),
  );
  const iq = notificationIq({
    id: "n1",
    from: "juliet@localhost",
    to: "push.example",
    node: "yxs32",
    count: 2,
    sender: "romeo@localhost/orchard",
    body: "Wherefore",
    publishOptions: options,
  });
  assertStanza(
    iq.clone({ ...iq.attrs, xmlns: "jabber:client" }), // as the stream carries it
    `<iq type='set' id='n1' from='juliet@localhost' to='push.example'>
      <pubsub xmlns='http://jabber.org/protocol/pubsub'>
        <publish node='yxs32'><item><notification xmlns='urn:xmpp:push:0'>
          <x xmlns='jabber:x:data' type='submit'>
            <field var='FORM_TYPE'><value>urn:xmpp:push:summary</value></field>
            <field var='message-count'><value>2</value></field>
            <field var='last-message-sender'><value>romeo@localhost/orchard</value></field>
            <field var='last-message-body'><value>Wherefore</value></field>
          </x>
        </notification></item></publish>
        <publish-options>
          <x xmlns='jabber:x:data' type='submit'>
            <field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>
            <field var='secret'><value>s3</value></field>
          </x>
        </publish-options>
      </pubsub>
    </iq>`,
  );
});

Deno.test("notificationIq() leaves out what it is not given, and cuts long bodies", () => {
  const bare = notificationIq({ id: "n", from: "j@localhost", to: "p", node: "x", count: 1 });
  assert.ok(!bare.toString().includes("last-message"), bare.toString());
  assert.ok(!bare.toString().includes("publish-options"), bare.toString());
  const long = notificationIq({
    id: "n",
    from: "j@localhost",
    to: "p",
    node: "x",
    count: 1,
    body: "a".repeat(MAX_BODY_CHARS - 1) + "😀" + "b",
  });
  const fields = long.getChild("pubsub", "http://jabber.org/protocol/pubsub")!
    .getChild("publish")!.getChild("item")!.getChild("notification", "urn:xmpp:push:0")!
    .getChild("x", "jabber:x:data")!.getChildren("field");
  assert.equal(fields.at(-1)!.getChildText("value"), "a".repeat(MAX_BODY_CHARS - 1));
});
