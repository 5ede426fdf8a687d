// Interoperability: xmpp.js, a client library written elsewhere, logs in over STARTTLS + SCRAM,
// fetches its roster, exchanges a subscription and messages through Verona.
import { strict as assert } from "node:assert";
import { client, xml } from "@xmpp/client";
import { startTestServer } from "./_harness.ts";

// The test server's certificate is self-signed; xmpp.js verifies with node:tls.
Deno.env.set("NODE_TLS_REJECT_UNAUTHORIZED", "0");

type XmppClient = ReturnType<typeof client>;
// deno-lint-ignore no-explicit-any -- xmpp.js ships no types for its elements
type XmlElement = any;

/** Resolves with the first stanza that `match` accepts, or rejects after a timeout. */
function nextStanza(
  xmpp: XmppClient,
  match: (stanza: XmlElement) => boolean,
  what: string,
): Promise<XmlElement> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      xmpp.removeListener("stanza", listener);
      reject(new Error(`timed out waiting for ${what}`));
    }, 5000);
    const listener = (stanza: XmlElement) => {
      if (!match(stanza)) return;
      clearTimeout(timer);
      xmpp.removeListener("stanza", listener);
      resolve(stanza);
    };
    xmpp.on("stanza", listener);
  });
}

function connect(port: number, username: string, password: string): XmppClient {
  const xmpp = client({
    service: `xmpp://127.0.0.1:${port}`,
    domain: "localhost",
    resource: "xmppjs",
    username,
    password,
  });
  xmpp.on("error", () => {}); // failures surface through start() and the awaited stanzas
  return xmpp;
}

Deno.test("xmpp.js logs in, gets its roster, subscribes and chats", async () => {
  await using test = await startTestServer({
    accounts: [["romeo", "montague-1"], ["juliet", "capulet-2"]],
  });
  const romeo = connect(test.port, "romeo", "montague-1");
  const juliet = connect(test.port, "juliet", "capulet-2");
  try {
    const romeoJid = await romeo.start();
    const julietJid = await juliet.start();
    assert.equal(romeoJid.toString(), "romeo@localhost/xmppjs");
    assert.equal(julietJid.toString(), "juliet@localhost/xmppjs");

    for (const xmpp of [romeo, juliet]) {
      xmpp.iqCallee.set("jabber:iq:roster", "query", () => true); // acknowledge roster pushes
      const roster = await xmpp.iqCaller.request(
        xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })),
      );
      assert.equal(roster.getChild("query", "jabber:iq:roster").getChildren("item").length, 0);
      await xmpp.send(xml("presence"));
    }

    // Juliet approves the request as it arrives; Romeo sees the push, then her presence.
    const request = nextStanza(
      juliet,
      (s) => s.is("presence") && s.attrs.type === "subscribe",
      "the subscription request",
    );
    const push = nextStanza(
      romeo,
      (s) =>
        s.is("iq") && s.attrs.type === "set" &&
        s.getChild("query", "jabber:iq:roster")?.getChild("item")?.attrs.subscription === "to",
      "the roster push with subscription='to'",
    );
    const herPresence = nextStanza(
      romeo,
      (s) => s.is("presence") && s.attrs.from === "juliet@localhost/xmppjs" && !s.attrs.type,
      "Juliet's presence",
    );
    await romeo.send(xml("presence", { to: "juliet@localhost", type: "subscribe" }));
    assert.equal((await request).attrs.from, "romeo@localhost");
    await juliet.send(xml("presence", { to: "romeo@localhost", type: "subscribed" }));
    await push;
    await herPresence;

    const roster = await romeo.iqCaller.request(
      xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })),
    );
    const items = roster.getChild("query", "jabber:iq:roster").getChildren("item");
    assert.deepEqual(
      items.map((item: XmlElement) => [item.attrs.jid, item.attrs.subscription]),
      [["juliet@localhost", "to"]],
    );

    const message = nextStanza(juliet, (s) => s.is("message"), "Romeo's message");
    await romeo.send(
      xml("message", { to: "juliet@localhost", type: "chat" }, xml("body", {}, "Good morrow")),
    );
    const got = await message;
    assert.equal(got.attrs.from, "romeo@localhost/xmppjs");
    assert.equal(got.getChildText("body"), "Good morrow");
  } finally {
    await romeo.stop().catch(() => {});
    await juliet.stop().catch(() => {});
  }
});
