// Proof that the federation test rig works without Verona: Prosody and ejabberd on loopback,
// finding each other through the test DNS (tests/_dns.ts) and presenting certificates of the test
// CA (tests/_ca.ts), exchange chat messages and a presence subscription, once with both trusting
// the CA (certificates: SASL EXTERNAL, XEP-0178) and once with neither (dialback, XEP-0220).
import { strict as assert } from "node:assert";
import { join } from "node:path";
import type { ReplayClient } from "../lib/replay/client.ts";
import type { Element } from "../lib/xml/element.ts";
import { debianVersion } from "./bench/_foreign_server.ts";
import { issueCertificate, makeTestCa } from "./_ca.ts";
import { login, waitForStanza } from "./_clients.ts";
import { startTestDns } from "./_dns.ts";
import { type Peer, startEjabberdPeer, startProsodyPeer } from "./_s2s_peers.ts";

const PROSODY = "prosody.internal";
const EJABBERD = "ejabberd.internal";
const PASSWORD = "s2s-test-password";
/** Long enough for a first s2s connection (DNS, TLS, auth) on a loaded machine. */
const ROUTE_TIMEOUT_MS = 15_000;

const missing = [
  (await debianVersion("prosody")) ? undefined : "prosody",
  (await debianVersion("ejabberd")) ? undefined : "ejabberd",
].filter((name) => name !== undefined);

/** What one federation round left behind: the peers' logs, once they have stopped. */
interface Logs {
  prosody: string;
  ejabberd: string;
}

function waitFor(
  client: ReplayClient,
  what: string,
  match: (stanza: Element) => boolean,
): Promise<Element> {
  return waitForStanza(client, what, match, ROUTE_TIMEOUT_MS);
}

/**
 * Starts the DNS, both peers and one client on each, runs the exchange, and stops everything
 * whatever happens; the peers' logs come back (and go into the error if the exchange failed).
 */
async function federate(trustCa: boolean): Promise<Logs> {
  const dir = await Deno.makeTempDir({ prefix: "verona-s2s-peers-" });
  const dns = await startTestDns();
  const peers: Peer[] = [];
  const clients: ReplayClient[] = [];
  const logs: Logs = { prosody: "", ejabberd: "" };
  let failure: unknown;
  try {
    const ca = await makeTestCa(dir);
    const common = {
      dnsPort: dns.port,
      caPath: trustCa ? ca.certPath : undefined,
      muc: true,
      startTimeoutMs: 20_000,
    };
    await Promise.all([Deno.mkdir(join(dir, "prosody")), Deno.mkdir(join(dir, "ejabberd"))]);
    const starting = [
      startProsodyPeer({
        ...common,
        ...await issueCertificate(ca, PROSODY, dir),
        dir: join(dir, "prosody"),
        domain: PROSODY,
        users: [{ name: "alice", password: PASSWORD }],
      }),
      startEjabberdPeer({
        ...common,
        ...await issueCertificate(ca, EJABBERD, dir),
        dir: join(dir, "ejabberd"),
        domain: EJABBERD,
        users: [{ name: "bob", password: PASSWORD }],
      }),
    ];
    // Both in parallel (ejabberd takes ~2 s); keep whichever started so that it gets stopped.
    const started = await Promise.allSettled(starting);
    for (const result of started) if (result.status === "fulfilled") peers.push(result.value);
    for (const result of started) if (result.status === "rejected") throw result.reason;
    const [prosody, ejabberd] = peers;
    dns.set(PROSODY, { port: prosody.s2sPort });
    dns.set(EJABBERD, { port: ejabberd.s2sPort });

    const alice = await login(prosody.c2sPort, `alice@${PROSODY}`, PASSWORD);
    clients.push(alice);
    const bob = await login(ejabberd.c2sPort, `bob@${EJABBERD}`, PASSWORD);
    clients.push(bob);
    // Interested (roster fetched: Prosody only passes subscription approvals to such resources,
    // RFC 6121 §3.1.6) and available, so that messages to the bare JIDs are delivered
    // (RFC 6121 §8.5.2.1.1).
    for (const client of clients) {
      client.send('<iq type="get" id="roster"><query xmlns="jabber:iq:roster"/></iq>');
      await waitFor(client, "its roster", (s) => s.name === "iq" && s.attrs.id === "roster");
      client.send("<presence/>");
    }

    alice.send(
      `<message to="bob@${EJABBERD}" type="chat" id="m1"><body>Hello from Prosody</body></message>`,
    );
    const toBob = await waitFor(bob, "the message from Prosody", (s) => s.name === "message");
    assert.equal(toBob.attrs.from?.split("/")[0], `alice@${PROSODY}`);
    assert.equal(toBob.attrs.to, `bob@${EJABBERD}`);
    assert.equal(toBob.getChild("body")?.getText(), "Hello from Prosody");

    bob.send(
      `<message to="alice@${PROSODY}" type="chat" id="m2"><body>Hello from ejabberd</body></message>`,
    );
    const toAlice = await waitFor(alice, "the message from ejabberd", (s) => s.name === "message");
    assert.equal(toAlice.attrs.from?.split("/")[0], `bob@${EJABBERD}`);
    assert.equal(toAlice.attrs.to, `alice@${PROSODY}`);
    assert.equal(toAlice.getChild("body")?.getText(), "Hello from ejabberd");

    // A subscription across the federation (RFC 6121 §3.1): subscribe, then subscribed back.
    alice.send(`<presence to="bob@${EJABBERD}" type="subscribe" id="s1"/>`);
    const request = await waitFor(
      bob,
      "the subscription request",
      (s) => s.name === "presence" && s.attrs.type === "subscribe",
    );
    assert.equal(request.attrs.from, `alice@${PROSODY}`);
    bob.send(`<presence to="alice@${PROSODY}" type="subscribed" id="s2"/>`);
    const approval = await waitFor(
      alice,
      "the subscription approval",
      (s) => s.name === "presence" && s.attrs.type === "subscribed",
    );
    assert.equal(approval.attrs.from, `bob@${EJABBERD}`);
    // Subscribed, Prosody probes bob; ejabberd answers with bob's available presence.
    const available = await waitFor(
      alice,
      "bob's presence",
      (s) =>
        s.name === "presence" && s.attrs.type === undefined &&
        s.attrs.from?.split("/")[0] === `bob@${EJABBERD}`,
    );
    assert.equal(available.attrs.to?.split("/")[0], `alice@${PROSODY}`);
  } catch (error) {
    failure = error;
  } finally {
    await Promise.allSettled(clients.map((client) => client.disconnect(1000)));
    for (const client of clients) client.close();
    await Promise.allSettled(peers.map((peer) => peer.stop()));
    if (peers[0]) logs.prosody = await peers[0].log();
    if (peers[1]) logs.ejabberd = await peers[1].log();
    await dns.close();
    await Deno.remove(dir, { recursive: true });
  }
  if (failure !== undefined) {
    const tail = (text: string) => text.split("\n").slice(-60).join("\n");
    const queries = dns.queries.map((q) => `${q.name} ${q.type} ${q.rcode}`).join("\n");
    throw new Error(
      `Federation failed: ${failure instanceof Error ? failure.message : failure}\n` +
        `--- DNS queries:\n${queries}\n--- Prosody log (tail):\n${tail(logs.prosody)}\n` +
        `--- ejabberd log (tail):\n${tail(logs.ejabberd)}`,
      { cause: failure },
    );
  }
  return logs;
}

/** ejabberd's log lines that say how each direction authenticated. */
function ejabberdAuth(log: string): { inbound?: string; outbound?: string } {
  return {
    inbound: log.match(/Accepted inbound s2s (\S+) authentication prosody\.internal/)?.[1],
    outbound: log.match(/Accepted outbound s2s (\S+) authentication ejabberd\.internal/)?.[1],
  };
}

const ignore = missing.length > 0;
const reason = ignore ? ` (skipped: ${missing.join(" and ")} not installed)` : "";

Deno.test({
  name: `Prosody and ejabberd federate by certificate when both trust the test CA${reason}`,
  ignore,
  async fn() {
    const logs = await federate(true);
    assert.deepEqual(ejabberdAuth(logs.ejabberd), { inbound: "EXTERNAL", outbound: "EXTERNAL" });
    assert.match(logs.prosody, /SASL EXTERNAL with ejabberd\.internal succeeded/);
  },
});

Deno.test({
  name: `Prosody and ejabberd fall back to dialback when neither trusts the test CA${reason}`,
  ignore,
  async fn() {
    const logs = await federate(false);
    assert.deepEqual(ejabberdAuth(logs.ejabberd), { inbound: "dialback", outbound: "dialback" });
    assert.match(logs.prosody, /SASL EXTERNAL failed, falling back to dialback/);
    assert.match(logs.prosody, /verified dialback key\.\.\. it is valid/);
  },
});
