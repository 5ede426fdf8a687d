// Stream Management (XEP-0198) and Client State Indication (XEP-0352) over real sockets: acks
// and their counts, resumption after a cut connection (nothing lost, nothing twice), expiry into
// offline storage, a failed resumption followed by a normal bind, and CSI holding presence.
import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "./_harness.ts";
import { openStream, RawClient } from "./_raw_client.ts";

const ACCOUNTS: [string, string][] = [["romeo", "romeo-pass"], ["juliet", "juliet-pass"]];
const SM = "urn:xmpp:sm:3";

/** STARTTLS and SASL PLAIN, then the new stream's features: ready to bind or resume. */
async function authenticate(port: number, user: string, password: string): Promise<RawClient> {
  const client = await RawClient.connect(port);
  await client.startTls();
  client.send(
    `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${
      btoa(`\0${user}\0${password}`)
    }</auth>`,
  );
  await client.waitFor("<success");
  client.discard();
  client.send(openStream());
  await client.waitFor("</stream:features>");
  return client;
}

async function loggedIn(port: number, user: string, resource: string): Promise<RawClient> {
  const client = await RawClient.connect(port);
  await client.startTls();
  await client.login(user, ACCOUNTS.find(([name]) => name === user)![1], resource);
  return client;
}

function message(to: string, body: string): string {
  return `<message to='${to}' type='chat' id='${body}'><body>${body}</body></message>`;
}

/** How often `needle` occurs in `text`. */
function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function enableResumable(client: RawClient, max?: number): Promise<string> {
  client.send(`<enable xmlns='${SM}' resume='true'${max ? ` max='${max}'` : ""}/>`);
  await client.waitFor(/<enabled [^>]*\/>/);
  const id = /<enabled [^>]*id='([^']+)'/.exec(client.text)?.[1];
  assert.ok(id, `an SM-ID in ${client.text}`);
  client.discard();
  return id;
}

/** Every connection released: the transport's accounting ran once per connection. */
async function released(test: TestServer, open: number): Promise<void> {
  await until(
    `${open} connection(s) counted (now ${test.server.connectionCount})`,
    () => test.server.connectionCount === open,
  );
}

Deno.test("SM: the feature, enable, <r/> answered with the handled count, acks and a too-high h", async () => {
  await using test = await startTestServer({ accounts: ACCOUNTS });
  const romeo = await RawClient.connect(test.port);
  await romeo.startTls();
  await romeo.login("romeo", "romeo-pass", "orchard");
  const juliet = await loggedIn(test.port, "juliet", "balcony");
  try {
    romeo.send(`<r xmlns='${SM}'/><enable xmlns='${SM}'/>`);
    await romeo.waitFor(`<enabled xmlns='${SM}'/>`);
    assert.ok(!romeo.text.includes("<a "), "no ack before SM is enabled");
    romeo.send(`<enable xmlns='${SM}'/>`); // §3: only once
    await romeo.waitFor("<unexpected-request");
    romeo.send(`<r xmlns='${SM}'/>`);
    await romeo.waitFor(`<a xmlns='${SM}' h='0'/>`);
    romeo.send(`<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    romeo.send(message("juliet@localhost/balcony", "hello"));
    romeo.send(`<r xmlns='${SM}'/>`);
    await romeo.waitFor(`<a xmlns='${SM}' h='2'/>`);
    await juliet.waitFor("hello");
    romeo.discard();
    for (const body of ["m1", "m2", "m3", "m4"]) {
      juliet.send(message("romeo@localhost/orchard", body));
    }
    // §4: the server asks for an ack (after five stanzas: the pong and four messages).
    await romeo.waitFor(">m4<");
    await romeo.waitFor(`<r xmlns='${SM}'/>`);
    romeo.send(`<a xmlns='${SM}' h='5'/>`);
    romeo.send(`<a xmlns='${SM}' h='9'/>`); // §6
    await romeo.waitFor("</stream:stream>");
    assert.match(romeo.text, /<undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    assert.match(
      romeo.text,
      /<handled-count-too-high xmlns='urn:xmpp:sm:3' h='9' send-count='5'\/>/,
    );
    // A stream error ends the session: nothing hibernates.
    await until("romeo unbound", () => test.server.router.sessionCount === 1);
  } finally {
    romeo.close();
    juliet.close();
  }
  await released(test, 0);
});

Deno.test("SM: resumption after a cut delivers the unacked and the queued stanzas exactly once", async () => {
  await using test = await startTestServer({ accounts: ACCOUNTS });
  const romeo = await loggedIn(test.port, "romeo", "orchard");
  const juliet = await loggedIn(test.port, "juliet", "balcony");
  let romeo2: RawClient | undefined;
  try {
    romeo.send("<presence/>");
    const id = await enableResumable(romeo);
    romeo.send(message("juliet@localhost/balcony", "from-romeo"));
    await juliet.waitFor("from-romeo");
    juliet.send(message("romeo@localhost/orchard", "m1"));
    juliet.send(message("romeo@localhost/orchard", "m2"));
    await romeo.waitFor("m2");
    romeo.send(`<a xmlns='${SM}' h='1'/>`); // m1 handled, m2 not
    await new Promise((resolve) => setTimeout(resolve, 50));
    romeo.close(); // no </stream:stream>: the session hibernates
    await until("romeo hibernates", () => test.log.some((line) => line.includes("hibernating")));
    juliet.send(message("romeo@localhost/orchard", "m3"));
    juliet.send(message("romeo@localhost", "m4"));
    juliet.send(`<iq type='get' id='p2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await juliet.waitFor("id='p2'");
    assert.equal(test.server.router.sessionCount, 2, "the hibernating session stays bound");
    assert.ok(!juliet.text.includes("type='error'"), juliet.text);

    romeo2 = await authenticate(test.port, "romeo", "romeo-pass");
    assert.match(romeo2.text, /<sm xmlns='urn:xmpp:sm:3'\/>/);
    romeo2.send(`<resume xmlns='${SM}' previd='${id}' h='1'/>`);
    await romeo2.waitFor(`<resumed xmlns='${SM}' previd='${id}' h='1'/>`);
    await romeo2.waitFor("m4");
    await romeo2.waitFor(`<r xmlns='${SM}'/>`);
    const text = romeo2.text;
    assert.equal(count(text, ">m1<"), 0, "m1 was acknowledged");
    for (const body of ["m2", "m3", "m4"]) assert.equal(count(text, `>${body}<`), 1, body);
    assert.ok(text.indexOf(">m2<") < text.indexOf(">m3<"), "in order");
    assert.ok(text.indexOf(">m3<") < text.indexOf(">m4<"), "in order");
    // The session goes on: same JID, counters carried over (§5).
    romeo2.send(`<a xmlns='${SM}' h='4'/>`);
    juliet.send(message("romeo@localhost/orchard", "m5"));
    await romeo2.waitFor(">m5<");
    romeo2.send(`<r xmlns='${SM}'/>`);
    await romeo2.waitFor(`<a xmlns='${SM}' h='1'/>`);
    romeo2.send(message("juliet@localhost/balcony", "again"));
    await juliet.waitFor(/id='again' from='romeo@localhost\/orchard'/);
    assert.equal(test.server.router.sessionCount, 2);
    // A clean close ends the session.
    romeo2.send("</stream:stream>");
    await until("romeo unbound", () => test.server.router.sessionCount === 1);
  } finally {
    romeo.close();
    romeo2?.close();
    juliet.close();
  }
  await released(test, 0);
  await until("every stream gone", () => test.server.streamCount === 0);
});

Deno.test("SM: a resumption closes the old connection that still looks alive (conflict)", async () => {
  await using test = await startTestServer({ accounts: ACCOUNTS });
  const romeo = await loggedIn(test.port, "romeo", "orchard");
  let romeo2: RawClient | undefined;
  try {
    const id = await enableResumable(romeo);
    romeo2 = await authenticate(test.port, "romeo", "romeo-pass");
    romeo2.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    await romeo2.waitFor("<resumed ");
    await romeo.waitFor("<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>");
    await romeo.waitClosed();
    assert.equal(test.server.router.sessionCount, 1);
    romeo2.send(`<iq type='get' id='p3' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await romeo2.waitFor(/id='p3'/);
    await released(test, 1);
  } finally {
    romeo.close();
    romeo2?.close();
  }
  await until(
    "the session hibernates",
    () => test.log.some((line) => line.includes("hibernating")),
  );
});

Deno.test("SM: an expired session's unacked and queued messages go to offline storage, once; resuming it fails with its h", async () => {
  await using test = await startTestServer({ accounts: ACCOUNTS });
  const romeo = await loggedIn(test.port, "romeo", "orchard");
  const juliet = await loggedIn(test.port, "juliet", "balcony");
  let romeo2: RawClient | undefined;
  try {
    romeo.send("<presence/>");
    const id = await enableResumable(romeo, 1);
    juliet.send(message("romeo@localhost/orchard", "m1"));
    juliet.send(
      `<iq type='get' id='v1' to='romeo@localhost/orchard'>` +
        `<query xmlns='jabber:iq:version'/></iq>`,
    );
    await romeo.waitFor("v1");
    romeo.send(`<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await romeo.waitFor("p1");
    romeo.close();
    await until("romeo hibernates", () => test.log.some((line) => line.includes("hibernating")));
    juliet.send(message("romeo@localhost/orchard", "m2"));
    await until("the session expires", () => test.log.some((l) => l.includes("timed out")), 4000);
    assert.equal(test.server.router.sessionCount, 1, "unbound at expiry");
    // The unanswered iq gets an error (§4); the messages are not bounced.
    await juliet.waitFor(/id='v1'[^>]*type='error'|type='error'[^>]*id='v1'/);
    assert.ok(!/id='m\d'[^>]*type='error'/.test(juliet.text), juliet.text);
    juliet.send(message("romeo@localhost/orchard", "m3"));

    romeo2 = await authenticate(test.port, "romeo", "romeo-pass");
    romeo2.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    // §5: the server still knows the expired session handled the one stanza sent after enable.
    await romeo2.waitFor(
      `<failed xmlns='${SM}' h='1'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`,
    );
    romeo2.send(
      `<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>` +
        `<resource>orchard</resource></bind></iq>`,
    );
    await romeo2.waitFor("<jid>romeo@localhost/orchard</jid>");
    romeo2.send("<presence/>");
    await romeo2.waitFor(">m3<");
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const body of ["m1", "m2", "m3"]) assert.equal(count(romeo2.text, `>${body}<`), 1, body);
  } finally {
    romeo.close();
    romeo2?.close();
    juliet.close();
  }
  await released(test, 0);
});

Deno.test("SM: an expired session's unacked messages go to the account's other resource", async () => {
  await using test = await startTestServer({ accounts: ACCOUNTS });
  const orchard = await loggedIn(test.port, "romeo", "orchard");
  const phone = await loggedIn(test.port, "romeo", "phone");
  const juliet = await loggedIn(test.port, "juliet", "balcony");
  try {
    phone.send("<presence/>");
    orchard.send("<presence/>");
    await enableResumable(orchard, 1);
    await phone.waitFor("from='romeo@localhost/orchard'");
    phone.discard();
    juliet.send(message("romeo@localhost/orchard", "m1"));
    await orchard.waitFor(">m1<");
    orchard.close();
    await until("the session expires", () => test.log.some((l) => l.includes("timed out")), 4000);
    await phone.waitFor(">m1<");
    await phone.waitFor("type='unavailable'");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(count(phone.text, ">m1<"), 1);
  } finally {
    orchard.close();
    phone.close();
    juliet.close();
  }
  await released(test, 0);
});

Deno.test("SM: a resume with an unknown id fails with item-not-found and bind still works", async () => {
  await using test = await startTestServer({ accounts: ACCOUNTS });
  const romeo = await authenticate(test.port, "romeo", "romeo-pass");
  try {
    romeo.send(`<enable xmlns='${SM}'/>`); // §3: not before bind
    await romeo.waitFor(`<failed xmlns='${SM}'><unexpected-request `);
    romeo.send(`<resume xmlns='${SM}' previd='no-such-session' h='0'/>`);
    await romeo.waitFor("<item-not-found ");
    romeo.send(
      `<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`,
    );
    await romeo.waitFor(/<iq [^>]*type='result'/);
    romeo.send(`<enable xmlns='${SM}' resume='1'/>`);
    await romeo.waitFor(/<enabled xmlns='urn:xmpp:sm:3' id='[^']+' resume='true' max='600'\/>/);
  } finally {
    romeo.close();
  }
  await released(test, 0);
});

Deno.test("CSI: presence is held while inactive (latest per sender) and flushed before a body", async () => {
  await using test = await startTestServer({ accounts: ACCOUNTS });
  const romeo = await loggedIn(test.port, "romeo", "orchard");
  const juliet = await loggedIn(test.port, "juliet", "balcony");
  try {
    romeo.send("<inactive xmlns='urn:xmpp:csi:0'/>");
    romeo.send(`<iq type='get' id='p4' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await romeo.waitFor("id='p4'");
    romeo.discard();
    const to = "romeo@localhost/orchard";
    juliet.send(`<presence to='${to}'><status>first</status></presence>`);
    juliet.send(`<presence to='${to}'><status>second</status></presence>`);
    juliet.send(
      `<message to='${to}' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`,
    );
    juliet.send(`<iq type='get' id='p5' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await juliet.waitFor("id='p5'");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(romeo.text, "", "held while inactive");
    juliet.send(message(to, "wake"));
    await romeo.waitFor(">wake<");
    const text = romeo.text;
    assert.ok(!text.includes("first"), "only the latest presence of a sender");
    assert.ok(text.indexOf("second") < text.indexOf("composing"), text);
    assert.ok(text.indexOf("composing") < text.indexOf(">wake<"), text);
    assert.match(text, /<delay xmlns='urn:xmpp:delay' from='romeo@localhost'/);
    // Still inactive: held again, then <active/> flushes.
    romeo.discard();
    juliet.send(`<presence to='${to}'><status>third</status></presence>`);
    juliet.send(`<iq type='get' id='p6' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await juliet.waitFor("id='p6'");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(romeo.text, "");
    romeo.send("<active xmlns='urn:xmpp:csi:0'/>");
    await romeo.waitFor("third");
  } finally {
    romeo.close();
    juliet.close();
  }
  await released(test, 0);
});

Deno.test("SM: a hibernating session past its queue bound expires early; nothing is lost", async () => {
  await using test = await startTestServer({
    accounts: ACCOUNTS,
    configure: (config) => Object.assign(config.limits, { smMaxUnackedStanzas: 3 }),
  });
  const romeo = await loggedIn(test.port, "romeo", "orchard");
  const juliet = await loggedIn(test.port, "juliet", "balcony");
  let romeo2: RawClient | undefined;
  try {
    romeo.send("<presence/>");
    await enableResumable(romeo);
    romeo.close();
    await until("romeo hibernates", () => test.log.some((line) => line.includes("hibernating")));
    for (const body of ["m1", "m2", "m3", "m4", "m5"]) {
      juliet.send(message("romeo@localhost/orchard", body));
    }
    await until("the queue is full", () => test.log.some((l) => l.includes("queue full")));
    await until("romeo unbound", () => test.server.router.sessionCount === 1);
    romeo2 = await loggedIn(test.port, "romeo", "orchard");
    romeo2.send("<presence/>");
    await romeo2.waitFor(">m5<");
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const body of ["m1", "m2", "m3", "m4", "m5"]) {
      assert.equal(count(romeo2.text, `>${body}<`), 1, body);
    }
    assert.ok(!juliet.text.includes("type='error'"), juliet.text);
  } finally {
    romeo.close();
    romeo2?.close();
    juliet.close();
  }
  await released(test, 0);
});

Deno.test("SM: a resumable session that stops acking drops its connection, then resumes whole", async () => {
  await using test = await startTestServer({
    accounts: ACCOUNTS,
    configure: (config) => {
      // The SM queue is kept to half the output bound: 32 KiB here.
      config.limits.maxSendQueueBytes = 64 * 1024;
    },
  });
  const romeo = await loggedIn(test.port, "romeo", "orchard");
  const juliet = await loggedIn(test.port, "juliet", "balcony");
  let romeo2: RawClient | undefined;
  try {
    const id = await enableResumable(romeo);
    romeo.pause(); // reads and acks nothing more
    const filler = "z".repeat(4 * 1024);
    let sent = 0;
    while (!test.log.some((line) => line.includes("connection dropped")) && sent < 100) {
      juliet.send(
        `<message to='romeo@localhost/orchard' type='chat' id='n${sent}'><body>${filler}</body></message>`,
      );
      sent++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await until("romeo hibernates", () => test.log.some((line) => line.includes("hibernating")));
    assert.ok(sent < 20, `dropped after ${sent} messages`);
    assert.ok(!test.log.some((line) => line.includes("stream error")), test.log.join("\n"));
    romeo2 = await authenticate(test.port, "romeo", "romeo-pass");
    romeo2.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    await romeo2.waitFor(`id='n${sent - 1}'`);
    for (let n = 0; n < sent; n++) assert.equal(count(romeo2.text, `id='n${n}'`), 1, `n${n}`);
  } finally {
    romeo.close();
    romeo2?.close();
    juliet.close();
  }
  await released(test, 0);
});

Deno.test("SM: with resumption turned off, enable gives no SM-ID and resume is not implemented", async () => {
  await using test = await startTestServer({
    accounts: ACCOUNTS,
    configure: (config) => Object.assign(config.limits, { smResumeTimeoutS: 0 }),
  });
  const romeo = await loggedIn(test.port, "romeo", "orchard");
  const romeo2 = await authenticate(test.port, "romeo", "romeo-pass");
  try {
    romeo.send(`<enable xmlns='${SM}' resume='true'/>`);
    await romeo.waitFor(`<enabled xmlns='${SM}'/>`);
    romeo2.send(`<resume xmlns='${SM}' previd='x' h='0'/>`);
    await romeo2.waitFor("<feature-not-implemented ");
    romeo.close(); // not resumable: the session ends at once
    await until("romeo unbound", () => test.server.router.sessionCount === 0);
  } finally {
    romeo.close();
    romeo2.close();
  }
  await released(test, 0);
});

Deno.test("SM: a server that stops keeps a hibernating session's messages in offline storage", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "verona-sm-" });
  try {
    {
      await using test = await startTestServer({ accounts: ACCOUNTS, dataDir });
      const romeo = await loggedIn(test.port, "romeo", "orchard");
      const juliet = await loggedIn(test.port, "juliet", "balcony");
      try {
        romeo.send("<presence/>");
        await enableResumable(romeo);
        juliet.send(message("romeo@localhost/orchard", "m1"));
        await romeo.waitFor(">m1<");
        romeo.close();
        await until("romeo hibernates", () => test.log.some((l) => l.includes("hibernating")));
        juliet.send(message("romeo@localhost/orchard", "m2"));
        juliet.send(`<iq type='get' id='p7' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
        await juliet.waitFor("id='p7'");
      } finally {
        romeo.close();
        juliet.close();
      }
    }
    await using again = await startTestServer({ dataDir });
    const romeo = await loggedIn(again.port, "romeo", "orchard");
    try {
      romeo.send("<presence/>");
      await romeo.waitFor(">m2<");
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const body of ["m1", "m2"]) assert.equal(count(romeo.text, `>${body}<`), 1, body);
    } finally {
      romeo.close();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
