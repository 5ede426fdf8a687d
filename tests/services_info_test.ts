// Server information from the configuration and the database: contact addresses (XEP-0157) and
// last activity for contacts with a presence subscription (XEP-0012).
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { assertStanza } from "../lib/replay/match.ts";
import type { Element } from "../lib/xml/element.ts";
import { ask, login as connect } from "./_clients.ts";
import { openDatabase } from "../lib/storage/sqlite.ts";
import { startTestServer } from "./_harness.ts";

Deno.test("contact addresses from [contact] appear as a serverinfo form in disco#info", async () => {
  await using test = await startTestServer({
    accounts: [["romeo", "pw"]],
    configure: (config) => {
      config.contact.abuse = ["mailto:abuse@localhost", "xmpp:abuse@localhost"];
      config.contact.support = ["https://localhost/help"];
    },
  });
  await using client = await connect(test.port, "romeo@localhost", "pw");
  const info = await ask(
    client,
    `<iq type='get' id='i1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
  );
  assertStanza(
    info,
    `<iq type='result' id='i1' from='localhost'>
      <query xmlns='http://jabber.org/protocol/disco#info' scansion:strict='false'>
        <x xmlns='jabber:x:data' type='result'>
          <field var='FORM_TYPE' type='hidden'><value>http://jabber.org/network/serverinfo</value></field>
          <field var='abuse-addresses'>
            <value>mailto:abuse@localhost</value>
            <value>xmpp:abuse@localhost</value>
          </field>
          <field var='support-addresses'><value>https://localhost/help</value></field>
        </x>
      </query>
    </iq>`,
  );
});

Deno.test("without [contact] addresses there is no serverinfo form", async () => {
  await using test = await startTestServer({ accounts: [["romeo", "pw"]] });
  await using client = await connect(test.port, "romeo@localhost", "pw");
  const info = await ask(
    client,
    `<iq type='get' id='i1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
  );
  const query = info.getChild("query", "http://jabber.org/protocol/disco#info")!;
  assert.equal(query.getChild("x", "jabber:x:data"), undefined, info.toString());
});

Deno.test("last activity: a contact with a subscription 'from' sees the logout time and status", async () => {
  await using test = await startTestServer({ accounts: [["romeo", "pw1"], ["juliet", "pw2"]] });
  {
    await using juliet = await connect(test.port, "juliet@localhost", "pw2");
    juliet.send(`<presence/>`);
    juliet.send(`<presence type='unavailable'><status>Sleeping</status></presence>`);
    await juliet.sync(5000);
  }
  // Juliet's roster lets Romeo see her presence (the IM modules write this row normally).
  {
    using db = openDatabase(join(test.dataDir, "verona.sqlite"));
    db.prepare("INSERT INTO roster_items (username, contact, subscription) VALUES (?, ?, ?)")
      .run("juliet", "romeo@localhost", "from");
  }
  await using romeo = await connect(test.port, "romeo@localhost", "pw1");
  let answer: Element | undefined;
  for (let attempt = 0; attempt < 50; attempt++) {
    // The logout is recorded once the server has seen Juliet's stream end.
    answer = await ask(
      romeo,
      `<iq type='get' id='l${attempt}' to='juliet@localhost'><query xmlns='jabber:iq:last'/></iq>`,
    );
    if (answer.attrs.type === "result") break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assertStanza(
    answer!,
    `<iq type='result' from='juliet@localhost'>
      <query xmlns='jabber:iq:last' seconds='{scansion:any}'>Sleeping</query>
    </iq>`,
  );
  const seconds = Number(answer!.getChild("query", "jabber:iq:last")!.attrs.seconds);
  assert.ok(seconds >= 0 && seconds < 5, `seconds=${seconds}`);
});
