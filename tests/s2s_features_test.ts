// What works between two accounts of one server works between accounts of two federating
// Veronas (a.localhost with alice, b.localhost with bob, tests/_two_servers.ts): PEP
// notifications filtered by a remote contact's caps (XEP-0163, XEP-0115), offline storage and
// MAM archiving of messages from and to remote users (XEP-0160, XEP-0313), carbons (XEP-0280),
// blocking (XEP-0191), vCards (XEP-0054) and mediated MUC invitations (XEP-0045 §7.8.2).
import { strict as assert } from "node:assert";
import { capsVer } from "../lib/caps/ver.ts";
import type { ReplayClient } from "../lib/replay/client.ts";
import { NS } from "../lib/stanza/ns.ts";
import { el, type Element } from "../lib/xml/element.ts";
import { login } from "./_clients.ts";
import { next, twoServers } from "./_two_servers.ts";

const ALICE = "alice@a.localhost";
const BOB = "bob@b.localhost";
const TUNE = "http://jabber.org/protocol/tune";
const MOOD = "http://jabber.org/protocol/mood";

/** Reads stanzas until one satisfies `wanted`, and returns it (each wait 8 s at most). */
async function until(client: ReplayClient, wanted: (stanza: Element) => boolean) {
  for (;;) {
    const stanza = await next(client);
    if (wanted(stanza)) return stanza;
  }
}

/** Sends an iq and returns its answer, skipping whatever else arrives first. */
async function iq(client: ReplayClient, id: string, xml: string): Promise<Element> {
  client.send(xml);
  return await until(client, (stanza) => stanza.name === "iq" && stanza.attrs.id === id);
}

/** An interested, available resource (RFC 6121 §2.1.6, §4.2), `presence` its first presence. */
async function online(client: ReplayClient, presence = "<presence/>") {
  await iq(client, "roster", "<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>");
  client.send(presence);
  await until(client, (stanza) => stanza.name === "presence");
}

/** Alice and Bob subscribe to each other's presence (both online and interested already). */
async function befriend(alice: ReplayClient, bob: ReplayClient) {
  const both = (stanza: Element) =>
    stanza.getChild("query", "jabber:iq:roster")?.getChild("item")?.attrs.subscription ===
      "both";
  alice.send(`<presence to='${BOB}' type='subscribe'/>`);
  await until(bob, (stanza) => stanza.attrs.type === "subscribe");
  bob.send(`<presence to='${ALICE}' type='subscribed'/>`);
  bob.send(`<presence to='${ALICE}' type='subscribe'/>`);
  await until(alice, (stanza) => stanza.attrs.type === "subscribe");
  alice.send(`<presence to='${BOB}' type='subscribed'/>`);
  await until(alice, both);
  await until(bob, both);
}

/** Bob's client's disco#info: a tune listener (XEP-0163 §4.2, `+notify`). */
function bobInfo(): Element {
  return el(
    "query",
    { xmlns: NS.DISCO_INFO },
    el("identity", { category: "client", type: "pc", name: "Bob's client" }),
    el("feature", { var: NS.DISCO_INFO }),
    el("feature", { var: NS.CAPS }),
    el("feature", { var: TUNE }),
    el("feature", { var: `${TUNE}+notify` }),
  );
}

/** Bob's presence with caps (XEP-0115 §4) announcing {@linkcode bobInfo}. */
function bobPresence(): string {
  const ver = capsVer(bobInfo(), "sha-1")!;
  return `<presence><c xmlns='${NS.CAPS}' hash='sha-1' node='urn:test:bob' ver='${ver}'/></presence>`;
}

/** Answers every disco#info query Bob's client gets with {@linkcode bobInfo}, at its node. */
function answerCaps(bob: ReplayClient, stanza: Element): boolean {
  const query = stanza.getChild("query", NS.DISCO_INFO);
  if (stanza.name !== "iq" || stanza.attrs.type !== "get" || query === undefined) return false;
  const info = bobInfo();
  if (query.attrs.node !== undefined) info.attrs.node = query.attrs.node;
  bob.send(
    el("iq", { type: "result", id: stanza.attrs.id!, to: stanza.attrs.from! }, info).toString(),
  );
  return true;
}

/** Reads Bob's stanzas, answering caps queries, until a tune notification from Alice. */
async function tuneFromAlice(bob: ReplayClient): Promise<Element> {
  return await until(bob, (stanza) => {
    if (answerCaps(bob, stanza)) return false;
    return stanza.name === "message" && stanza.attrs.from === ALICE &&
      stanza.getChild("event", NS.PUBSUB_EVENT)?.getChild("items")?.attrs.node === TUNE;
  });
}

function publishTune(alice: ReplayClient, id: string, title: string) {
  alice.send(
    `<iq type='set' id='${id}'><pubsub xmlns='${NS.PUBSUB}'><publish node='${TUNE}'><item id='current'><tune xmlns='${TUNE}'><title>${title}</title></tune></item></publish></pubsub></iq>`,
  );
}

function titleOf(notification: Element): string | undefined {
  return notification.getChild("event", NS.PUBSUB_EVENT)?.getChild("items")?.getChild("item")
    ?.getChild("tune", TUNE)?.getChildText("title");
}

Deno.test("s2s features: PEP notifies a remote contact whose caps ask for the node (XEP-0163 §4.2)", async () => {
  await using servers = await twoServers();
  const alice = await login(servers.a.port, `${ALICE}/phone`, "secret");
  const bob = await login(servers.b.port, `${BOB}/desk`, "secret");
  try {
    await online(alice);
    await online(bob);
    await befriend(alice, bob);
    bob.send(bobPresence());
    // Alice's server learns Bob's caps from his presence (asking him), then Alice publishes.
    await until(bob, (stanza) => answerCaps(bob, stanza) && stanza.attrs.from === ALICE);
    await until(
      alice,
      (stanza) => stanza.name === "presence" && stanza.attrs.from === `${BOB}/desk`,
    );
    // A node Bob's caps do not ask for first: he must not hear of it (XEP-0163 §4.2).
    alice.send(
      `<iq type='set' id='p0'><pubsub xmlns='${NS.PUBSUB}'><publish node='${MOOD}'><item><mood xmlns='${MOOD}'><happy/></mood></item></publish></pubsub></iq>`,
    );
    publishTune(alice, "p1", "Remote song");
    const seen: Element[] = [];
    const notification = await until(bob, (stanza) => {
      if (answerCaps(bob, stanza)) return false;
      seen.push(stanza);
      return titleOf(stanza) !== undefined;
    });
    const mood = seen.find((stanza) =>
      stanza.getChild("event", NS.PUBSUB_EVENT) && !titleOf(stanza)
    );
    assert.equal(mood, undefined, mood?.toString());
    assert.equal(notification.attrs.from, ALICE);
    assert.equal(notification.attrs.to, `${BOB}/desk`);
    assert.equal(titleOf(notification), "Remote song");
  } finally {
    alice.close();
    bob.close();
  }
});

Deno.test("s2s features: a remote contact coming online gets the last PEP item (XEP-0163 §4.3.2)", async () => {
  await using servers = await twoServers();
  const alice = await login(servers.a.port, `${ALICE}/phone`, "secret");
  let bob = await login(servers.b.port, `${BOB}/desk`, "secret");
  try {
    await online(alice);
    await online(bob);
    await befriend(alice, bob);
    bob.close();
    publishTune(alice, "p1", "Earlier song");
    await until(alice, (stanza) => stanza.attrs.id === "p1");
    bob = await login(servers.b.port, `${BOB}/laptop`, "secret");
    await online(bob, bobPresence());
    const notification = await tuneFromAlice(bob);
    assert.equal(notification.attrs.to, `${BOB}/laptop`);
    assert.equal(titleOf(notification), "Earlier song");
    assert.ok(notification.getChild("delay", NS.DELAY), notification.toString());
  } finally {
    alice.close();
    bob.close();
  }
});

/** A MAM query (XEP-0313 §4) of the whole archive: the archived messages, oldest first. */
async function archive(client: ReplayClient, id: string): Promise<Element[]> {
  client.send(
    `<iq type='set' id='${id}'><query xmlns='urn:xmpp:mam:2' queryid='${id}'/></iq>`,
  );
  const found: Element[] = [];
  for (;;) {
    const stanza = await next(client);
    if (stanza.name === "iq" && stanza.attrs.id === id) {
      assert.equal(stanza.attrs.type, "result", stanza.toString());
      return found;
    }
    const result = stanza.getChild("result", "urn:xmpp:mam:2");
    const message = result?.getChild("forwarded", NS.FORWARD)?.getChild("message", NS.CLIENT);
    if (result?.attrs.queryid === id && message !== undefined) found.push(message);
  }
}

Deno.test("s2s features: a remote user's message to an offline user is stored, delivered at login, and archived both ways", async () => {
  await using servers = await twoServers();
  const bob = await login(servers.b.port, `${BOB}/desk`, "secret");
  let alice: ReplayClient | undefined;
  try {
    await online(bob);
    bob.send(
      `<message to='${ALICE}' type='chat' id='o1'><body>While you were out</body></message>`,
    );
    // Any answer from A to this iq comes after A handled the message (one stream, in order).
    await iq(
      bob,
      "after",
      `<iq type='get' id='after' to='${ALICE}'><ping xmlns='urn:xmpp:ping'/></iq>`,
    );
    alice = await login(servers.a.port, `${ALICE}/phone`, "secret");
    await online(alice);
    const stored = await until(alice, (stanza) => stanza.name === "message");
    assert.equal(stored.attrs.from, `${BOB}/desk`);
    assert.equal(stored.getChildText("body"), "While you were out");
    assert.equal(stored.getChild("delay", NS.DELAY)?.attrs.from, "a.localhost");
    alice.send(`<message to='${BOB}' type='chat' id='o2'><body>Back now</body></message>`);
    const mine = await archive(alice, "q1");
    const received = mine.find((m) => m.getChildText("body") === "While you were out");
    assert.equal(received?.attrs.from, `${BOB}/desk`);
    const sent = mine.find((m) => m.getChildText("body") === "Back now");
    assert.equal(sent?.attrs.to, BOB);
  } finally {
    alice?.close();
    bob.close();
  }
});

Deno.test("s2s features: carbons of a remote user's message and of a message to a remote user (XEP-0280)", async () => {
  await using servers = await twoServers();
  const phone = await login(servers.a.port, `${ALICE}/phone`, "secret");
  const laptop = await login(servers.a.port, `${ALICE}/laptop`, "secret");
  const bob = await login(servers.b.port, `${BOB}/desk`, "secret");
  try {
    for (const client of [phone, laptop]) {
      await iq(client, "c", "<iq type='set' id='c'><enable xmlns='urn:xmpp:carbons:2'/></iq>");
      await online(client);
    }
    await online(bob);
    bob.send(
      `<message to='${ALICE}/phone' type='chat' id='k1'><body>To your phone</body></message>`,
    );
    const received = await until(laptop, (stanza) => stanza.name === "message");
    const copy = received.getChild("received", "urn:xmpp:carbons:2")?.getChild(
      "forwarded",
      NS.FORWARD,
    )
      ?.getChild("message", NS.CLIENT);
    assert.equal(received.attrs.from, ALICE, received.toString());
    assert.equal(copy?.attrs.from, `${BOB}/desk`);
    assert.equal(copy?.getChildText("body"), "To your phone");
    phone.send(
      `<message to='${BOB}/desk' type='chat' id='k2'><body>From my phone</body></message>`,
    );
    const sent = await until(laptop, (stanza) => stanza.name === "message");
    const own = sent.getChild("sent", "urn:xmpp:carbons:2")?.getChild("forwarded", NS.FORWARD)
      ?.getChild("message", NS.CLIENT);
    assert.equal(own?.attrs.to, `${BOB}/desk`, sent.toString());
    assert.equal(own?.getChildText("body"), "From my phone");
    const got = await until(bob, (stanza) => stanza.name === "message");
    assert.equal(got.getChildText("body"), "From my phone");
  } finally {
    phone.close();
    laptop.close();
    bob.close();
  }
});

Deno.test("s2s features: a blocked remote user's message is not delivered and bounces as locally (XEP-0191 §3.5)", async () => {
  await using servers = await twoServers();
  const alice = await login(servers.a.port, `${ALICE}/phone`, "secret");
  const bob = await login(servers.b.port, `${BOB}/desk`, "secret");
  try {
    await online(alice);
    await online(bob);
    const blocked = await iq(
      alice,
      "b1",
      `<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='${BOB}'/></block></iq>`,
    );
    assert.equal(blocked.attrs.type, "result");
    bob.send(`<message to='${ALICE}' type='chat' id='x1'><body>Hello?</body></message>`);
    const error = await until(bob, (stanza) => stanza.name === "message");
    assert.equal(error.attrs.type, "error", error.toString());
    assert.equal(error.attrs.id, "x1");
    assert.equal(error.attrs.from, ALICE);
    assert.ok(
      error.getChild("error")?.getChild(
        "service-unavailable",
        "urn:ietf:params:xml:ns:xmpp-stanzas",
      ),
      error.toString(),
    );
    // Alice got nothing: the next thing she receives is the answer to her own ping.
    alice.send("<iq type='get' id='ping' to='a.localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    const pong = await next(alice);
    assert.equal(pong.attrs.id, "ping", `Alice got ${pong.toString()} before her pong`);
  } finally {
    alice.close();
    bob.close();
  }
});

Deno.test("s2s features: a remote user fetches a vCard across servers (XEP-0054)", async () => {
  await using servers = await twoServers();
  const alice = await login(servers.a.port, `${ALICE}/phone`, "secret");
  const bob = await login(servers.b.port, `${BOB}/desk`, "secret");
  try {
    const set = await iq(
      alice,
      "v1",
      "<iq type='set' id='v1'><vCard xmlns='vcard-temp'><FN>Alice Liddell</FN><NICKNAME>al</NICKNAME></vCard></iq>",
    );
    assert.equal(set.attrs.type, "result", set.toString());
    const got = await iq(
      bob,
      "v2",
      `<iq type='get' id='v2' to='${ALICE}'><vCard xmlns='vcard-temp'/></iq>`,
    );
    assert.equal(got.attrs.type, "result", got.toString());
    assert.equal(got.attrs.from, ALICE);
    assert.equal(got.getChild("vCard", "vcard-temp")?.getChildText("FN"), "Alice Liddell");
  } finally {
    alice.close();
    bob.close();
  }
});

Deno.test("s2s features: a room invites a user of the other server (XEP-0045 §7.8.2)", async () => {
  await using servers = await twoServers();
  const alice = await login(servers.a.port, `${ALICE}/phone`, "secret");
  const bob = await login(servers.b.port, `${BOB}/desk`, "secret");
  try {
    await online(alice);
    const room = "tea@conference.b.localhost";
    bob.send(`<presence to='${room}/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    await until(bob, (stanza) => stanza.name === "presence" && stanza.attrs.from === `${room}/Bob`);
    await iq(
      bob,
      "c1",
      `<iq type='set' to='${room}' id='c1'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`,
    );
    bob.send(
      `<message to='${room}' id='i1'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='${ALICE}'><reason>Tea?</reason></invite></x></message>`,
    );
    const invitation = await until(alice, (stanza) => stanza.name === "message");
    assert.equal(invitation.attrs.from, room, invitation.toString());
    const invite = invitation.getChild("x", "http://jabber.org/protocol/muc#user")?.getChild(
      "invite",
    );
    assert.ok(invite, invitation.toString());
    assert.equal(invite.getChildText("reason"), "Tea?");
    assert.ok(
      invite.attrs.from?.startsWith(room) || invite.attrs.from?.startsWith(BOB),
      invite.toString(),
    );
  } finally {
    alice.close();
    bob.close();
  }
});
