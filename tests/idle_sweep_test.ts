// The server's idle sweep frees the XML parser of connections that sent nothing since the last
// sweep; their streams must go on exactly as before: stanzas, the namespaces declared on the
// stream header, stream management counts, and the stream's close.
import { strict as assert } from "node:assert";
import { login } from "./_clients.ts";
import { startTestServer } from "./_harness.ts";
import { RawClient } from "./_raw_client.ts";

const SM = "urn:xmpp:sm:3";

Deno.test("idle connections freed by the sweep go on parsing their streams", async () => {
  await using test = await startTestServer({
    accounts: [["romeo", "romeo-pass"], ["juliet", "juliet-pass"]],
  });
  const sweep = () => {
    // The first forgets the input seen since the last sweep, the second frees idle parsers.
    test.server.releaseIdle();
    test.server.releaseIdle();
  };
  const juliet = await login(test.port, "juliet@localhost", "juliet-pass");
  const romeo = await RawClient.connect(test.port);
  await romeo.startTls();
  await romeo.login("romeo", "romeo-pass", "balcony");
  romeo.send(`<enable xmlns='${SM}'/>`);
  await romeo.waitFor(`<enabled xmlns='${SM}'/>`);
  sweep();
  romeo.send("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  await romeo.waitFor(/id='p1' type='result'|type='result'[^>]*id='p1'/);
  sweep();
  romeo.send(
    `<message to='${juliet.fullJid}' type='chat' id='m1'><body>after the sweep</body></message>` +
      `<r xmlns='${SM}'/>`,
  );
  const { stanza } = await juliet.waitForStanza({ match: (s) => s.attrs.id === "m1" });
  assert.equal(stanza.getChildText("body"), "after the sweep");
  // Handled: the ping and the message (RFC 6120 stanzas only), counted across the sweeps.
  await romeo.waitFor(`<a xmlns='${SM}' h='2'/>`);
  sweep();
  // `stream:` is bound by the stream header only: the new parser must know it too.
  romeo.send("</stream:stream>");
  await romeo.waitFor("</stream:stream>");
  assert.ok(!romeo.text.includes("stream:error"), romeo.text);
  romeo.close();
  await juliet.disconnect();
});
