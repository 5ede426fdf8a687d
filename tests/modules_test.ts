// Server modules over the wire: a module disabled in the configuration is really off, and the
// rest of the server works without it.
import { strict as assert } from "node:assert";
import { assertStanza } from "../lib/replay/match.ts";
import { ask, login as connect } from "./_clients.ts";
import { startTestServer } from "./_harness.ts";

const DISCO_INFO = "http://jabber.org/protocol/disco#info";

Deno.test("[vcard] enabled = false: vCard requests get service-unavailable, disco no longer lists vcard-temp", async () => {
  await using test = await startTestServer({
    accounts: [["romeo", "pw1"], ["juliet", "pw2"]],
    toml: { text: "[vcard]\nenabled = false\n", origin: "modules_test.toml" },
  });
  assert.ok(!test.server.moduleNames.includes("vcard"));
  assert.ok(test.server.moduleNames.includes("private_storage"));
  await using romeo = await connect(test.port, "romeo@localhost", "pw1");
  for (const to of ["", " to='juliet@localhost'"]) {
    assertStanza(
      await ask(romeo, `<iq type='get' id='v1'${to}><vCard xmlns='vcard-temp'/></iq>`),
      `<iq type='error' id='v1'>
        <error type='cancel'>
          <service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
        </error>
      </iq>`,
    );
  }
  const info = await ask(
    romeo,
    `<iq type='get' id='i1' to='localhost'><query xmlns='${DISCO_INFO}'/></iq>`,
  );
  const features = info.getChild("query", DISCO_INFO)!.getChildren("feature")
    .map((feature) => feature.attrs.var);
  assert.ok(!features.includes("vcard-temp"), features.join(" "));
  assert.ok(features.includes("urn:xmpp:ping"), features.join(" "));
  // Nor does the account's own disco#info, which still lists the other account services.
  const account = (await ask(romeo, `<iq type='get' id='i2'><query xmlns='${DISCO_INFO}'/></iq>`))
    .getChild("query", DISCO_INFO)!.getChildren("feature").map((feature) => feature.attrs.var);
  assert.ok(!account.includes("vcard-temp"), account.join(" "));
  assert.ok(account.includes("jabber:iq:private"), account.join(" "));
  // The rest works: ping, private storage, a chat message.
  assertStanza(
    await ask(romeo, `<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`),
    `<iq type='result' id='p1' from='localhost'/>`,
  );
  assertStanza(
    await ask(
      romeo,
      `<iq type='set' id='s1'><query xmlns='jabber:iq:private'><prefs xmlns='x:prefs'>on</prefs></query></iq>`,
    ),
    `<iq type='result' id='s1'/>`,
  );
  await using juliet = await connect(test.port, "juliet@localhost", "pw2");
  juliet.send(`<presence/>`);
  await juliet.sync(5000);
  romeo.send(`<message to='juliet@localhost' type='chat' id='m1'><body>Hi</body></message>`);
  const { stanza } = await juliet.waitForStanza({
    match: (received) => received.name === "message",
    timeoutMs: 5000,
  });
  assert.equal(stanza.getChildText("body"), "Hi");
});

Deno.test("the server refuses to start when an enabled module depends on a disabled one", async () => {
  await assert.rejects(
    () =>
      startTestServer({
        toml: {
          text: "[roster]\nenabled = false\n[presence]\nenabled = false\n",
          origin: "modules_test.toml",
        },
      }),
    /module "blocking" depends on module "roster", which is disabled/,
  );
});

Deno.test("with [muc] enabled = false there is no chat service", async () => {
  await using test = await startTestServer({
    accounts: [["romeo", "pw1"]],
    toml: { text: "[muc]\nenabled = false\n", origin: "modules_test.toml" },
  });
  await using romeo = await connect(test.port, "romeo@localhost", "pw1");
  assertStanza(
    await ask(
      romeo,
      `<iq type='get' id='d1' to='conference.localhost'><query xmlns='${DISCO_INFO}'/></iq>`,
    ),
    `<iq type='error' id='d1'>
      <error type='cancel'><remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>
    </iq>`,
  );
});
