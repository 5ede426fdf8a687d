// Federation with the reference servers (RFC 6120 s2s): Verona on verona.internal and Debian's
// Prosody (prosody.internal) or ejabberd (ejabberd.internal), on loopback, finding each other by
// DNS SRV through the test DNS (tests/_dns.ts). Each pairing runs twice: with certificates from
// a CA both trust (SASL EXTERNAL, XEP-0178) and with certificates neither trusts (dialback,
// XEP-0220). Both directions of chat, a subscription each way with presence, and MUC: Verona's
// user in the peer's room and the peer's user in Verona's room.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import type { ReplayClient } from "../lib/replay/client.ts";
import type { Element } from "../lib/xml/element.ts";
import { debianVersion } from "./bench/_foreign_server.ts";
import { issueCertificate, makeTestCa } from "./_ca.ts";
import { login, waitForStanza } from "./_clients.ts";
import { startTestDns } from "./_dns.ts";
import { startTestServer, type TestServer } from "./_harness.ts";
import { type Peer, startEjabberdPeer, startProsodyPeer } from "./_s2s_peers.ts";

const VERONA = "verona.internal";
const PASSWORD = "s2s-test-password";
/** Long enough for a first s2s connection (DNS, TLS, auth) on a loaded machine. */
const TIMEOUT_MS = 15_000;
const MUC_USER = "http://jabber.org/protocol/muc#user";

type PeerKind = "prosody" | "ejabberd";

function waitFor(
  client: ReplayClient,
  what: string,
  match: (stanza: Element) => boolean,
): Promise<Element> {
  return waitForStanza(client, what, match, TIMEOUT_MS);
}

const bare = (jid: string | undefined) => jid?.split("/")[0];

/** Fetches the roster (an interested resource, RFC 6121 §2.1.6) and sends presence. */
async function online(client: ReplayClient): Promise<void> {
  client.send('<iq type="get" id="roster"><query xmlns="jabber:iq:roster"/></iq>');
  await waitFor(client, "its roster", (s) => s.name === "iq" && s.attrs.id === "roster");
  client.send("<presence/>");
}

/** `subscriber` subscribes to `contact`, who approves; the subscriber then sees its presence. */
async function subscribe(
  subscriber: ReplayClient,
  subscriberJid: string,
  contact: ReplayClient,
  contactJid: string,
): Promise<void> {
  subscriber.send(`<presence to="${contactJid}" type="subscribe"/>`);
  const request = await waitFor(
    contact,
    `the subscription request from ${subscriberJid}`,
    (s) => s.name === "presence" && s.attrs.type === "subscribe",
  );
  assert.equal(request.attrs.from, subscriberJid);
  contact.send(`<presence to="${subscriberJid}" type="subscribed"/>`);
  await waitFor(
    subscriber,
    `the approval from ${contactJid}`,
    (s) => s.name === "presence" && s.attrs.type === "subscribed" && s.attrs.from === contactJid,
  );
  await waitFor(
    subscriber,
    `the presence of ${contactJid}`,
    (s) => s.name === "presence" && s.attrs.type === undefined && bare(s.attrs.from) === contactJid,
  );
}

/**
 * Joins `room` as `nick`; when the room is new (status 201), accepts the default configuration
 * (XEP-0045 §10.1.2) so that others may enter.
 */
async function enterRoom(client: ReplayClient, room: string, nick: string): Promise<void> {
  client.send(
    `<presence to="${room}/${nick}"><x xmlns="http://jabber.org/protocol/muc"/></presence>`,
  );
  const self = await waitFor(
    client,
    `its own presence in ${room}`,
    (s) =>
      s.name === "presence" && s.attrs.from === `${room}/${nick}` &&
      (s.getChild("x", MUC_USER)?.getChildren("status").some((c) => c.attrs.code === "110") ??
        false),
  );
  assert.equal(self.attrs.type, undefined, self.toString());
  const created = self.getChild("x", MUC_USER)?.getChildren("status").some((c) =>
    c.attrs.code === "201"
  );
  if (created) {
    client.send(
      `<iq type="set" to="${room}" id="create"><query xmlns="http://jabber.org/protocol/muc#owner"><x xmlns="jabber:x:data" type="submit"/></query></iq>`,
    );
    await waitFor(client, "the room configured", (s) => s.name === "iq" && s.attrs.id === "create");
  }
}

/** A groupchat message from `sender` reaches `receiver` from the sender's occupant JID. */
async function groupchat(
  room: string,
  sender: ReplayClient,
  senderNick: string,
  receiver: ReplayClient,
  body: string,
): Promise<void> {
  sender.send(`<message to="${room}" type="groupchat"><body>${body}</body></message>`);
  const got = await waitFor(
    receiver,
    `"${body}" in ${room}`,
    (s) => s.name === "message" && s.getChildText("body") === body,
  );
  assert.equal(got.attrs.from, `${room}/${senderNick}`);
  assert.equal(got.attrs.type, "groupchat");
}

interface Round {
  verona: TestServer;
  peerLog: string;
}

async function federate(kind: PeerKind, trustCa: boolean): Promise<Round> {
  const peerDomain = `${kind}.internal`;
  const dir = await Deno.makeTempDir({ prefix: "verona-s2s-interop-" });
  const dns = await startTestDns();
  const clients: ReplayClient[] = [];
  let peer: Peer | undefined;
  let verona: TestServer | undefined;
  let failure: unknown;
  let peerLog = "";
  try {
    const ca = await makeTestCa(dir);
    await Deno.mkdir(join(dir, kind));
    const startPeer = kind === "prosody" ? startProsodyPeer : startEjabberdPeer;
    peer = await startPeer({
      ...await issueCertificate(ca, peerDomain, dir),
      dir: join(dir, kind),
      domain: peerDomain,
      dnsPort: dns.port,
      caPath: trustCa ? ca.certPath : undefined,
      users: [{ name: "bob", password: PASSWORD }],
      muc: true,
      startTimeoutMs: 20_000,
    });
    const mine = await issueCertificate(ca, VERONA, dir);
    verona = await startTestServer({
      accounts: [["alice", PASSWORD]],
      configure: (config) => {
        config.domain = VERONA;
        config.mucDomain = `conference.${VERONA}`;
        config.tls.certFile = mine.certPath;
        config.tls.keyFile = mine.keyPath;
        Object.assign(config.s2s, {
          dnsServer: `127.0.0.1:${dns.port}`,
          caFile: trustCa ? ca.certPath : "",
          insecureDomains: trustCa ? [] : [peerDomain, `conference.${peerDomain}`],
          retryAfterS: 0,
        });
      },
    });
    const veronaS2s = verona.server.s2s!.port!;
    for (const domain of [VERONA, `conference.${VERONA}`]) dns.set(domain, { port: veronaS2s });
    for (const domain of [peerDomain, `conference.${peerDomain}`]) {
      dns.set(domain, { port: peer.s2sPort });
    }
    const aliceJid = `alice@${VERONA}`;
    const bobJid = `bob@${peerDomain}`;
    const alice = await login(verona.port, `${aliceJid}/laptop`, PASSWORD);
    clients.push(alice);
    const bob = await login(peer.c2sPort, `${bobJid}/phone`, PASSWORD);
    clients.push(bob);
    await online(alice);
    await online(bob);

    // Chat, both ways.
    alice.send(
      `<message to="${bobJid}" type="chat" id="m1"><body>Hello from Verona</body></message>`,
    );
    const toBob = await waitFor(bob, "Alice's message", (s) => s.name === "message");
    assert.equal(toBob.attrs.from, `${aliceJid}/laptop`);
    assert.equal(toBob.getChildText("body"), "Hello from Verona");
    bob.send(
      `<message to="${aliceJid}" type="chat" id="m2"><body>Hello from ${kind}</body></message>`,
    );
    const toAlice = await waitFor(alice, "Bob's message", (s) => s.name === "message");
    assert.equal(toAlice.attrs.from, `${bobJid}/phone`);
    assert.equal(toAlice.getChildText("body"), `Hello from ${kind}`);

    // Subscriptions, each way, with the presence that follows.
    await subscribe(alice, aliceJid, bob, bobJid);
    await subscribe(bob, bobJid, alice, aliceJid);
    // A presence change reaches the other side.
    alice.send("<presence><show>dnd</show></presence>");
    await waitFor(
      bob,
      "Alice's new presence",
      (s) =>
        s.name === "presence" && s.attrs.from === `${aliceJid}/laptop` &&
        s.getChildText("show") === "dnd",
    );

    // MUC: Alice in the peer's room, Bob in Verona's.
    const peerRoom = `lounge@conference.${peerDomain}`;
    await enterRoom(bob, peerRoom, "Bob");
    await enterRoom(alice, peerRoom, "Alice");
    await groupchat(peerRoom, bob, "Bob", alice, "Welcome to the peer's room");
    await groupchat(peerRoom, alice, "Alice", bob, "Thanks from Verona");
    const veronaRoom = `garden@conference.${VERONA}`;
    await enterRoom(alice, veronaRoom, "Alice");
    await enterRoom(bob, veronaRoom, "Bob");
    await groupchat(veronaRoom, alice, "Alice", bob, "Welcome to Verona's room");
    await groupchat(veronaRoom, bob, "Bob", alice, `Thanks from ${kind}`);
  } catch (error) {
    failure = error;
  } finally {
    await Promise.allSettled(clients.map((client) => client.disconnect(1000)));
    for (const client of clients) client.close();
    await peer?.stop();
    peerLog = (await peer?.log()) ?? "";
    if (failure !== undefined) await verona?.[Symbol.asyncDispose]();
    await dns.close();
    await Deno.remove(dir, { recursive: true });
  }
  if (failure !== undefined) {
    const tail = (text: string) => text.split("\n").slice(-80).join("\n");
    throw new Error(
      `Federation with ${kind} failed: ${failure instanceof Error ? failure.message : failure}\n` +
        `--- Verona log (s2s):\n${verona?.log.filter((l) => l.includes("s2s")).join("\n")}\n` +
        `--- ${kind} log (tail):\n${tail(peerLog)}`,
      { cause: failure },
    );
  }
  return { verona: verona!, peerLog };
}

/** How Verona authenticated with the peer, each direction, from its log. */
function veronaAuth(
  log: string[],
  peerDomain: string,
): { inbound?: string; outbound?: string; bidirectional: boolean } {
  const find = (pattern: RegExp) => log.map((line) => pattern.exec(line)?.[1]).find(Boolean);
  return {
    inbound: find(
      new RegExp(`in ${peerDomain} authenticated ${peerDomain} → ${VERONA} \\(([^,)]+)`),
    ),
    outbound: find(new RegExp(`out ${VERONA} → ${peerDomain} authenticated \\(([^,)]+)`)),
    bidirectional: log.some((line) =>
      line.includes(`out ${VERONA} → ${peerDomain} authenticated`) &&
      line.includes("bidirectional")
    ),
  };
}

for (const kind of ["prosody", "ejabberd"] as const) {
  const installed = await debianVersion(kind);
  const reason = installed ? "" : ` (skipped: ${kind} not installed)`;
  for (const trustCa of [true, false]) {
    Deno.test({
      name: `s2s interop: Verona and ${kind} federate by ${
        trustCa ? "certificate (SASL EXTERNAL)" : "dialback"
      }: chat, subscriptions, presence and MUC both ways${reason}`,
      ignore: !installed,
      async fn() {
        const { verona } = await federate(kind, trustCa);
        try {
          const how = veronaAuth(verona.log, `${kind}.internal`);
          const expected = trustCa ? "SASL EXTERNAL" : "dialback";
          assert.equal(how.outbound, expected, verona.log.join("\n"));
          // A peer that takes our stream as bidirectional (XEP-0288: Prosody's mod_s2s_bidi)
          // sends over it and needs no stream of its own to us.
          if (how.outbound === expected && !how.bidirectional) {
            assert.equal(how.inbound, expected, verona.log.join("\n"));
          }
        } finally {
          await verona[Symbol.asyncDispose]();
        }
      },
    });
  }
}
