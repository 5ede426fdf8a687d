// Federation between two Verona servers on loopback (RFC 6120 s2s): a.localhost and b.localhost
// find each other through static routes, authenticate by dialback (their certificates are the
// self-signed ones each generates, allowed by `insecure_domains`), and carry chat, presence
// subscriptions and MUC both ways.
import { strict as assert } from "node:assert";
import { type AddressInfo, createServer } from "node:net";
import { RawClient } from "./_raw_client.ts";
import { parseOpenMetrics, sampleValue } from "./_openmetrics.ts";
import { startTestDns } from "./_dns.ts";
import { issueCertificate, makeTestCa } from "./_ca.ts";
import { login } from "./_clients.ts";
import { startTestServer } from "./_harness.ts";
import { next, twoServers } from "./_two_servers.ts";

Deno.test("s2s: chat between two Veronas, both directions, over dialback", async () => {
  await using servers = await twoServers();
  const { a, b } = servers;
  const alice = await login(a.port, "alice@a.localhost/phone", "secret");
  const bob = await login(b.port, "bob@b.localhost/desk", "secret");
  try {
    alice.send("<presence/>");
    bob.send("<presence/>");
    alice.send(
      "<message to='bob@b.localhost/desk' type='chat' id='m1'><body>Hello from A</body></message>",
    );
    const got = await next(bob, "message");
    assert.equal(got.attrs.from, "alice@a.localhost/phone");
    assert.equal(got.getChildText("body"), "Hello from A");
    bob.send(
      "<message to='alice@a.localhost/phone' type='chat' id='m2'><body>Hello from B</body></message>",
    );
    const back = await next(alice, "message");
    assert.equal(back.attrs.from, "bob@b.localhost/desk");
    assert.equal(back.getChildText("body"), "Hello from B");
    const authLines = [...a.log, ...b.log].filter((line) => line.includes("authenticated"));
    assert.ok(authLines.some((line) => line.includes("(dialback")), authLines.join("\n"));
    if (Deno.env.get("S2S_LOG")) console.log([...a.log, "----", ...b.log].join("\n"));
    // /metrics counts the stanzas each way and the streams.
    const response = await fetch(`http://127.0.0.1:${a.server.http!.port}/metrics`);
    const metrics = parseOpenMetrics(await response.text());
    assert.ok((sampleValue(metrics, "verona_s2s_stanzas_out_total") ?? 0) >= 1);
    assert.ok((sampleValue(metrics, "verona_s2s_stanzas_in_total") ?? 0) >= 1);
    assert.equal(sampleValue(metrics, "verona_s2s_outgoing_streams"), 1);
    assert.equal(sampleValue(metrics, "verona_s2s_queued_stanzas"), 0);
    // The admin's status (verona status) names the federated domains.
    assert.deepEqual(a.server.status().s2s?.domains, ["b.localhost"]);
    assert.match(a.server.statusLine(), /, s2s \d+ in \/ 1 out/);
  } finally {
    alice.close();
    bob.close();
  }
});

Deno.test("s2s: subscription and presence across servers", async () => {
  await using servers = await twoServers();
  const { a, b } = servers;
  const alice = await login(a.port, "alice@a.localhost/phone", "secret");
  const bob = await login(b.port, "bob@b.localhost/desk", "secret");
  try {
    bob.send("<presence><status>at work</status></presence>");
    await next(bob, "presence"); // his own
    // An interested resource (RFC 6121 §2.1.6): it asked for the roster.
    alice.send("<iq type='get' id='r0'><query xmlns='jabber:iq:roster'/></iq>");
    await next(alice, "iq");
    alice.send("<presence/>");
    await next(alice, "presence");
    alice.send("<presence to='bob@b.localhost' type='subscribe'/>");
    const request = await next(bob, "presence");
    assert.equal(request.attrs.type, "subscribe");
    assert.equal(request.attrs.from, "alice@a.localhost");
    bob.send("<presence to='alice@a.localhost' type='subscribed'/>");
    // Alice's server: the answer, a roster push, then Bob's presence (RFC 6121 §3.1.5, §3.1.6).

    let bobAvailable = false;
    let subscribed = false;
    while (!bobAvailable || !subscribed) {
      const stanza = await next(alice);

      if (stanza.name === "presence" && stanza.attrs.type === "subscribed") {
        assert.equal(stanza.attrs.from, "bob@b.localhost");
        subscribed = true;
      }
      if (
        stanza.name === "presence" && stanza.attrs.type === undefined &&
        stanza.attrs.from === "bob@b.localhost/desk"
      ) {
        assert.equal(stanza.getChildText("status"), "at work");
        bobAvailable = true;
      }
    }
    // Later changes reach the subscriber too.
    bob.send("<presence><show>away</show></presence>");
    for (;;) {
      const stanza = await next(alice, "presence");
      if (stanza.attrs.from === "bob@b.localhost/desk" && stanza.getChildText("show") === "away") {
        break;
      }
    }
    // Alice's roster says "to"; Bob's roster says "from".
    alice.send("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>");
    for (;;) {
      const stanza = await next(alice, "iq");
      if (stanza.attrs.id !== "r1") continue;
      const item = stanza.getChild("query", "jabber:iq:roster")?.getChild("item");
      assert.equal(item?.attrs.jid, "bob@b.localhost");
      assert.equal(item?.attrs.subscription, "to");
      break;
    }
    // When Bob goes, Alice hears it.
    bob.send("<presence type='unavailable'/>");
    for (;;) {
      const stanza = await next(alice, "presence");
      if (stanza.attrs.from === "bob@b.localhost/desk" && stanza.attrs.type === "unavailable") {
        break;
      }
    }
  } finally {
    alice.close();
    bob.close();
  }
});

Deno.test("s2s: a room on one server with an occupant from the other", async () => {
  await using servers = await twoServers();
  const { a, b } = servers;
  const alice = await login(a.port, "alice@a.localhost/phone", "secret");
  const bob = await login(b.port, "bob@b.localhost/desk", "secret");
  try {
    const room = "tea@conference.b.localhost";
    bob.send(`<presence to='${room}/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    for (;;) {
      const stanza = await next(bob);
      if (stanza.name === "presence" && stanza.attrs.from === `${room}/Bob`) break;
    }
    // A new room is locked until configured (XEP-0045 §10.1.2): accept the defaults.
    bob.send(
      `<iq type='set' to='${room}' id='c1'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`,
    );
    for (;;) if ((await next(bob)).attrs.id === "c1") break;
    alice.send(
      `<presence to='${room}/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
    );
    let joined = false;
    while (!joined) {
      const stanza = await next(alice);
      if (stanza.name === "presence" && stanza.attrs.from === `${room}/Alice`) {
        const codes = stanza.getChild("x", "http://jabber.org/protocol/muc#user")
          ?.getChildren("status").map((status) => status.attrs.code);
        assert.ok(codes?.includes("110"), stanza.toString());
        joined = true;
      }
    }
    for (;;) {
      const stanza = await next(bob, "presence");
      if (stanza.attrs.from === `${room}/Alice`) break;
    }
    alice.send(`<message to='${room}' type='groupchat' id='g1'><body>Hi all</body></message>`);
    for (const client of [alice, bob]) {
      for (;;) {
        const stanza = await next(client, "message");
        if (stanza.getChildText("body") === "Hi all") {
          assert.equal(stanza.attrs.from, `${room}/Alice`);
          break;
        }
      }
    }
    bob.send(`<message to='${room}' type='groupchat' id='g2'><body>Welcome</body></message>`);
    for (;;) {
      const stanza = await next(alice, "message");
      if (stanza.getChildText("body") === "Welcome") {
        assert.equal(stanza.attrs.from, `${room}/Bob`);
        break;
      }
    }
  } finally {
    alice.close();
    bob.close();
  }
});

/**
 * A stand-in for the authoritative server of `domain` (XEP-0220 §2.3): answers every db:verify
 * with `answer`, over plain TCP (the server under test is configured not to require TLS).
 */
function fakeAuthoritative(domain: string, answer: "valid" | "invalid") {
  const server = createServer((socket) => {
    let text = "";
    socket.on("data", (chunk) => {
      text += chunk.toString();
      if (text.includes("<stream:stream") && !text.includes("<!--opened-->")) {
        text += "<!--opened-->";
        socket.write(
          `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' id='auth1' from='${domain}' version='1.0'>` +
            `<stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>`,
        );
      }
      for (
        const match of text.matchAll(/<db:verify[^>]*id=["']([^"']+)["'][^>]*>[^<]*<\/db:verify>/g)
      ) {
        socket.write(
          `<db:verify from='${domain}' to='a.localhost' id='${match[1]}' type='${answer}'/>`,
        );
        text = text.replace(match[0], "");
      }
    });
    socket.on("error", () => {});
  });
  const listening = new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port))
  );
  return {
    port: listening,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Server A, open to plain dialback from `evil.localhost`, whose authoritative server is faked. */
async function serverForRawPeer(answer: "valid" | "invalid") {
  const authoritative = fakeAuthoritative("evil.localhost", answer);
  const port = await authoritative.port;
  const a = await startTestServer({
    accounts: [["alice", "secret"]],
    configure: (config) => {
      config.domain = "a.localhost";
      Object.assign(config.s2s, {
        requireEncryption: false,
        secureAuth: false,
        staticRoutes: new Map([["evil.localhost", { host: "127.0.0.1", port }]]),
      });
    },
  });
  const s2sPort = a.server.s2s!.port!;
  const peer = await RawClient.connect(s2sPort);
  peer.send(
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='evil.localhost' to='a.localhost' version='1.0'>",
  );
  await peer.waitFor("</stream:features>");
  peer.send("<db:result from='evil.localhost' to='a.localhost'>0123abcd</db:result>");
  return {
    a,
    peer,
    async [Symbol.asyncDispose]() {
      peer.close();
      await a[Symbol.asyncDispose]();
      await authoritative.close();
    },
  };
}

Deno.test("s2s: a peer that dialback proved gets through; a stanza from a domain it did not prove ends the stream (invalid-from)", async () => {
  await using setup = await serverForRawPeer("valid");
  const { a, peer } = setup;
  const alice = await login(a.port, "alice@a.localhost/phone", "secret");
  try {
    alice.send("<presence/>");
    await next(alice, "presence");
    await peer.waitFor(/<db:result[^>]*type=["']valid["']/);
    peer.send(
      "<message from='eve@evil.localhost/x' to='alice@a.localhost' type='chat'><body>legit</body></message>",
    );
    const legit = await next(alice, "message");
    assert.equal(legit.attrs.from, "eve@evil.localhost/x");
    assert.equal(legit.getChildText("body"), "legit");
    // Now a stanza claiming to be from a domain this stream never authenticated.
    peer.send(
      "<message from='bob@b.localhost/x' to='alice@a.localhost' type='chat'><body>spoofed</body></message>",
    );
    await peer.waitFor("<invalid-from");
    await peer.waitClosed();
    alice.send("<iq type='get' id='ping1' to='a.localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    const pong = await next(alice);
    assert.equal(pong.attrs.id, "ping1", `alice got ${pong.toString()} instead of the pong`);
    assert.ok(a.log.some((line) => line.includes("refused a stanza from b.localhost")));
  } finally {
    alice.close();
  }
});

Deno.test("s2s: a dialback key the authoritative server calls wrong is refused, and nothing gets through", async () => {
  await using setup = await serverForRawPeer("invalid");
  const { a, peer } = setup;
  await peer.waitFor(/<db:result[^>]*type=["']invalid["']/);
  await peer.waitClosed();
  assert.ok(a.log.some((line) => line.includes("refused evil.localhost")), a.log.join("\n"));
});

Deno.test("s2s: with certificates from a CA both trust, the servers authenticate by SASL EXTERNAL", async () => {
  const dir = await Deno.makeTempDir({ prefix: "verona-s2s-ca-" });
  try {
    const testCa = await makeTestCa(dir);
    const ca = {
      caPath: testCa.certPath,
      a: await issueCertificate(testCa, "a.localhost", dir),
      b: await issueCertificate(testCa, "b.localhost", dir),
    };
    await using servers = await twoServers(ca);
    const { a, b } = servers;
    const alice = await login(a.port, "alice@a.localhost/phone", "secret");
    const bob = await login(b.port, "bob@b.localhost/desk", "secret");
    try {
      for (const client of [alice, bob]) {
        client.send("<presence/>");
        await next(client, "presence");
      }
      alice.send("<message to='bob@b.localhost' type='chat'><body>one</body></message>");
      assert.equal((await next(bob, "message")).getChildText("body"), "one");
      bob.send("<message to='alice@a.localhost' type='chat'><body>two</body></message>");
      assert.equal((await next(alice, "message")).getChildText("body"), "two");
      // XEP-0288: A connected first and made its stream bidirectional, so B answered over it
      // and opened none of its own.
      assert.ok(
        a.log.some((line) =>
          line.includes(
            "out a.localhost → b.localhost authenticated (SASL EXTERNAL, bidirectional)",
          )
        ),
        a.log.join("\n"),
      );
      assert.ok(
        b.log.some((line) =>
          line.includes(
            "in a.localhost authenticated a.localhost → b.localhost (SASL EXTERNAL, bidirectional)",
          )
        ),
        b.log.join("\n"),
      );
      assert.ok(!b.log.some((line) => line.includes("out b.localhost")), b.log.join("\n"));
    } finally {
      alice.close();
      bob.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("s2s: a peer whose certificate does not validate, and that is not allowed dialback alone, is refused with a bounce", async () => {
  const dir = await Deno.makeTempDir({ prefix: "verona-s2s-ca-" });
  try {
    const testCa = await makeTestCa(dir);
    const otherCa = await makeTestCa(await Deno.makeTempDir({ dir }));
    const ca = {
      caPath: testCa.certPath,
      a: await issueCertificate(testCa, "a.localhost", dir),
      // B's certificate comes from a CA that A does not trust.
      b: await issueCertificate(otherCa, "b.localhost", dir),
    };
    await using servers = await twoServers(ca);
    const { a } = servers;
    const alice = await login(a.port, "alice@a.localhost/phone", "secret");
    try {
      alice.send("<message to='bob@b.localhost' type='chat' id='x1'><body>one</body></message>");
      const bounce = await next(alice, "message");
      assert.equal(bounce.attrs.type, "error");
      assert.ok(
        bounce.getChild("error")?.getChild(
          "remote-server-not-found",
          "urn:ietf:params:xml:ns:xmpp-stanzas",
        ),
        bounce.toString(),
      );
      assert.ok(
        a.log.some((line) => line.includes("refused") && line.includes("trusted root")),
        a.log.join("\n"),
      );
    } finally {
      alice.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("s2s: a push notification (XEP-0357) reaches an app server on another server", async () => {
  await using servers = await twoServers();
  const { a, b } = servers;
  const alice = await login(a.port, "alice@a.localhost/phone", "secret");
  // Bob's session on B plays the app server (XEP-0357 §5: a pubsub service at a JID).
  const app = await login(b.port, "bob@b.localhost/app", "secret");
  try {
    app.send("<presence/>");
    await next(app, "presence");
    alice.send(
      "<iq type='set' id='push1'><enable xmlns='urn:xmpp:push:0' jid='bob@b.localhost/app' node='n1'/></iq>",
    );
    const enabled = await next(alice, "iq");
    assert.equal(enabled.attrs.type, "result", enabled.toString());
    alice.close();
    // Offline now: a message for her is stored, and her app server is told.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const sender = await login(b.port, "bob@b.localhost/desk", "secret");
    try {
      sender.send("<message to='alice@a.localhost' type='chat'><body>wake up</body></message>");
      for (;;) {
        const stanza = await next(app, "iq");
        const publish = stanza.getChild("pubsub", "http://jabber.org/protocol/pubsub")
          ?.getChild("publish");
        if (publish === undefined) continue;
        assert.equal(stanza.attrs.from, "alice@a.localhost");
        assert.equal(publish.attrs.node, "n1");
        app.send(`<iq type='result' id='${stanza.attrs.id}' to='alice@a.localhost'/>`);
        break;
      }
    } finally {
      sender.close();
    }
  } finally {
    alice.close();
    app.close();
  }
});

Deno.test("s2s: direct TLS (XEP-0368): a server found by its _xmpps-server record is reached over TLS from the first byte", async () => {
  const dir = await Deno.makeTempDir({ prefix: "verona-s2s-dtls-" });
  const dns = await startTestDns();
  try {
    const testCa = await makeTestCa(dir);
    const certs = {
      a: await issueCertificate(testCa, "a.internal", dir),
      b: await issueCertificate(testCa, "b.internal", dir),
    };
    const start = (name: "a" | "b") =>
      startTestServer({
        accounts: [[name === "a" ? "alice" : "bob", "secret"]],
        configure: (config) => {
          config.domain = `${name}.internal`;
          config.tls.certFile = certs[name].certPath;
          config.tls.keyFile = certs[name].keyPath;
          Object.assign(config.s2s, {
            directTlsPort: 0,
            caFile: testCa.certPath,
            dnsServer: `127.0.0.1:${dns.port}`,
          });
        },
      });
    await using a = await start("a");
    await using b = await start("b");
    for (const [name, server] of [["a", a], ["b", b]] as const) {
      dns.set(`${name}.internal`, {
        port: server.server.s2s!.port!,
        directTlsPort: server.server.s2s!.directTlsPort!,
      });
    }
    const alice = await login(a.port, "alice@a.internal/phone", "secret");
    const bob = await login(b.port, "bob@b.internal/desk", "secret");
    try {
      bob.send("<presence/>");
      await next(bob, "presence");
      alice.send("<message to='bob@b.internal' type='chat'><body>over direct TLS</body></message>");
      assert.equal((await next(bob, "message")).getChildText("body"), "over direct TLS");
      assert.ok(
        a.log.some((line) =>
          line.includes("a.internal → b.internal: connected") &&
          line.includes("over direct TLS")
        ),
        a.log.join("\n"),
      );
      assert.ok(
        b.log.some((line) =>
          line.includes("in a.internal authenticated a.internal → b.internal (SASL EXTERNAL")
        ),
        b.log.join("\n"),
      );
    } finally {
      alice.close();
      bob.close();
    }
  } finally {
    await dns.close();
    await Deno.remove(dir, { recursive: true });
  }
});
