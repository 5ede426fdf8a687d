// XMPP over direct TLS (XEP-0368 §3): a second client port where the connection is TLS from the
// first byte, with ALPN "xmpp-client". The stream is then the one after STARTTLS (no <starttls/>
// feature, PLAIN allowed, tls.required satisfied), and its connections count against the same
// limits and timeouts as the c2s port's, whatever ends them.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import type { Config } from "../lib/config/config.ts";
import { ReplayClient } from "../lib/replay/client.ts";
import { login } from "./_clients.ts";
import {
  countsBackToZero,
  endEachWay,
  type Endings,
  startTestServer,
  type TestServer,
} from "./_harness.ts";
import { verona } from "./_process.ts";
import { openStream, RawClient } from "./_raw_client.ts";

const ROMEO: [string, string] = ["romeo", "romeo-secret"];
const JULIET: [string, string] = ["juliet", "juliet-pass"];
/** A second loopback address: Linux routes all of 127.0.0.0/8 to the loopback interface. */
const FRESH_ADDRESS = "127.0.0.2";

function plainAuth(username: string, password: string): string {
  return `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${
    btoa(`\0${username}\0${password}`)
  }</auth>`;
}

/** A server with a direct-TLS port (0: a free one), adjusted by `configure`. */
function startDirectTls(configure?: (config: Config) => void): Promise<TestServer> {
  return startTestServer({
    accounts: [ROMEO, JULIET],
    configure: (config) => {
      config.directTlsPort = 0;
      configure?.(config);
    },
  });
}

function directPort(test: TestServer): number {
  const port = test.server.directTlsPort;
  assert.ok(port !== null && port !== test.port, `a direct-TLS port of its own, got ${port}`);
  return port;
}

/** Romeo (or `account`) logged in over direct TLS with the replay client, and bound. */
async function loginDirect(
  test: TestServer,
  options: { account?: [string, string]; mechanism?: string; localAddress?: string } = {},
): Promise<ReplayClient> {
  const [username, password] = options.account ?? ROMEO;
  const client = new ReplayClient();
  await client.connect({
    host: "127.0.0.1",
    port: directPort(test),
    directTls: true,
    jid: `${username}@localhost`,
    password,
    mechanisms: options.mechanism ? [options.mechanism] : undefined,
    localAddress: options.localAddress,
  });
  return client;
}

/** A raw connection over direct TLS with its stream open, up to the features. */
async function streamOverDirectTls(test: TestServer): Promise<RawClient> {
  const raw = await RawClient.connectDirectTls(directPort(test));
  raw.send(openStream());
  await raw.waitFor("</stream:features>");
  return raw;
}

/** A TCP connection to the direct-TLS port, with no TLS from the client (yet). */
function tcpTo(test: TestServer): Promise<RawClient> {
  return RawClient.connect(directPort(test));
}

Deno.test("direct TLS: a node:tls client with ALPN xmpp-client logs in with PLAIN, binds and pings; no STARTTLS is offered", async () => {
  await using test = await startDirectTls();
  // The certificate is the one STARTTLS presents, verified for the domain (SNI localhost).
  const ca = await Deno.readTextFile(join(test.dataDir, "localhost.crt"));
  const raw = await RawClient.connectDirectTls(directPort(test), { ca });
  assert.equal(raw.alpnProtocol, "xmpp-client");
  raw.send(openStream());
  await raw.waitFor("</stream:features>");
  assert.ok(!raw.text.includes("starttls"), `no <starttls/> over TLS: ${raw.text}`);
  for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]) {
    assert.ok(raw.text.includes(`<mechanism>${mechanism}</mechanism>`), raw.text);
  }
  await raw.login(...ROMEO, "raw");
  raw.send("<iq type='get' id='ping1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  await raw.waitFor(/<iq[^>]*id='ping1'/);
  assert.match(raw.text, /<iq[^>]*type='result'/);
  assert.equal(test.server.router.sessionCount, 1);
  raw.send("</stream:stream>");
  await raw.waitClosed();
  await countsBackToZero(test);
});

Deno.test("direct TLS: the replay client logs in with each SASL mechanism, binds and pings", async () => {
  // STARTTLS required (the default): direct TLS satisfies it.
  await using test = await startDirectTls((config) => config.tls.required = true);
  for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]) {
    const client = await loginDirect(test, { mechanism });
    assert.equal(client.featuresBeforeAuth.getChild("starttls"), undefined, mechanism);
    assert.match(client.fullJid, /^romeo@localhost\//);
    await client.sync(); // a ping, answered
    await client.disconnect();
  }
  await countsBackToZero(test);
});

Deno.test("direct TLS: `verona spec --direct-tls` replays a script over the direct-TLS port", async () => {
  await using test = await startDirectTls();
  const script = join(import.meta.dirname!, "..", "spec", "c2s", "ping.scs");
  const args = ["spec", "--host", "127.0.0.1", "--port", String(directPort(test)), script];
  const replayed = await verona([...args.slice(0, -1), "--direct-tls", script]);
  assert.equal(replayed.code, 0, replayed.stdout + replayed.stderr);
  assert.match(replayed.stdout, /1 passed, 0 failed/);
  // Without the option the client waits for a plaintext stream header that never comes.
  const plain = await verona([...args.slice(0, -1), "--timeout", "500", script]);
  assert.equal(plain.code, 1, plain.stdout);
});

Deno.test("direct TLS: ALPN xmpp-client or none is served, other protocols only are refused (RFC 7301 §3.2)", async () => {
  await using test = await startDirectTls();
  const port = directPort(test);
  for (const [alpn, chosen] of [[[], false], [["h2", "xmpp-client"], "xmpp-client"]] as const) {
    const raw = await RawClient.connectDirectTls(port, { alpn: [...alpn] });
    assert.equal(raw.alpnProtocol, chosen, `offered ${JSON.stringify(alpn)}`);
    raw.send(openStream());
    await raw.waitFor("</stream:features>");
    raw.close();
  }
  await assert.rejects(
    RawClient.connectDirectTls(port, { alpn: ["h2", "http/1.1"] }),
    /no.?application.?protocol/i,
  );
  await countsBackToZero(test);
});

Deno.test("direct TLS: <starttls/> over a direct-TLS stream is a policy violation (XEP-0368 §3)", async () => {
  await using test = await startDirectTls();
  const raw = await streamOverDirectTls(test);
  raw.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  await raw.waitFor("policy-violation");
  await raw.waitClosed();
  await countsBackToZero(test);
});

/** Each way a direct-TLS connection can end, run more times than the per-address limit. */
const ENDINGS: Endings = {
  "peer closes a TCP connection before any TLS": async (test) => {
    (await tcpTo(test)).close();
  },
  "peer speaks plaintext XMPP instead of TLS (the handshake fails)": async (test) => {
    const raw = await tcpTo(test);
    raw.send(openStream());
    await raw.waitClosed();
  },
  "peer sends half a ClientHello and waits (the negotiation timeout)": async (test) => {
    const raw = await tcpTo(test);
    raw.send(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    await raw.waitClosed();
  },
  "peer never starts TLS (the negotiation timeout)": async (test) => {
    await (await tcpTo(test)).waitClosed();
  },
  "peer completes TLS and opens no stream (the negotiation timeout)": async (test) => {
    const raw = await RawClient.connectDirectTls(directPort(test));
    await raw.waitFor("connection-timeout", 3000);
    await raw.waitClosed();
  },
  "a stream error over direct TLS": async (test) => {
    const raw = await streamOverDirectTls(test);
    raw.send("<message><body>hi</message>");
    await raw.waitFor("not-well-formed");
    await raw.waitClosed();
  },
  "too many failed SASL attempts": async (test) => {
    const raw = await streamOverDirectTls(test);
    for (let i = 0; i < 3; i++) raw.send(plainAuth("romeo", "wrong"));
    await raw.waitFor("policy-violation");
    await raw.waitClosed();
  },
  "a logged-in peer drops the TLS connection without closing the stream": async (test) => {
    const client = await loginDirect(test, { account: JULIET });
    client.send("<presence/>");
    await client.sync();
    client.close();
  },
};

Deno.test("direct TLS: connection counts return to zero after a hundred logins and every kind of ending", async () => {
  await using test = await startDirectTls((config) => {
    config.limits.maxConnections = 20;
    config.limits.maxConnectionsPerIp = 5;
    config.limits.negotiationTimeoutMs = 300;
    config.limits.authFailuresPerIpBurst = 100;
  });
  for (let i = 0; i < 100; i++) await (await loginDirect(test)).disconnect();
  await countsBackToZero(test);
  await endEachWay(test, ENDINGS);
  await countsBackToZero(test);
  assert.ok(
    !test.log.some((line) => line.includes("refused connection")),
    `no connection was refused: ${test.log.filter((l) => l.includes("refused")).join("\n")}`,
  );
});

Deno.test("direct TLS: both ports count against the same per-address limit", async () => {
  await using test = await startDirectTls((config) => {
    config.limits.maxConnections = 20;
    config.limits.maxConnectionsPerIp = 5;
  });
  const held: ReplayClient[] = [];
  for (let i = 0; i < 3; i++) {
    const client = new ReplayClient();
    await client.connect({
      host: "127.0.0.1",
      port: test.port,
      jid: "romeo@localhost",
      password: ROMEO[1],
    });
    held.push(client);
  }
  for (let i = 0; i < 2; i++) held.push(await loginDirect(test));
  assert.equal(test.server.connectionCount, 5);
  assert.equal(test.server.connectionsPerAddress.get("127.0.0.1"), 5);
  await assert.rejects(loginDirect(test));
  await assert.rejects(RawClient.connect(test.port).then((raw) => raw.waitFor("<stream")));
  assert.equal(test.log.filter((line) => line.includes("too many from address")).length, 2);
  const fresh = await loginDirect(test, { localAddress: FRESH_ADDRESS });
  await fresh.disconnect();
  for (const client of held) await client.disconnect();
  await countsBackToZero(test);
});

Deno.test("direct TLS: under connection pressure, handshakes and logins that dawdle are cut short", async () => {
  await using test = await startDirectTls((config) => {
    config.limits.maxConnections = 6; // pressure from 3 open connections on
    config.limits.maxConnectionsPerIp = 6;
    config.limits.negotiationTimeoutMs = 60_000;
    config.limits.pressureNegotiationTimeoutMs = 200;
  });
  // Two sessions logged in, one on each port, keep the pressure on.
  const logged = [await loginDirect(test), await login(test.port, "juliet@localhost", JULIET[1])];
  const started = Date.now();
  const silent = await tcpTo(test);
  const noStream = await RawClient.connectDirectTls(directPort(test));
  await noStream.waitFor("connection-timeout", 3000);
  assert.match(noStream.text, /The server is busy/);
  await Promise.all([silent.waitClosed(3000), noStream.waitClosed(3000)]);
  // Far below the 60 s timeout: the pressure timeout, plus at most the 2 s linger.
  assert.ok(Date.now() - started < 3000, `closed after ${Date.now() - started} ms`);
  assert.equal(test.server.router.sessionCount, 2, "logged-in sessions stay");
  for (const client of logged) await client.disconnect();
  await countsBackToZero(test);
});

Deno.test("direct TLS: input before authentication is shaped as on the c2s port", async () => {
  await using test = await startDirectTls((config) => {
    config.limits.preauthRateBytes = 1024;
    config.limits.preauthBurstBytes = 4096;
  });
  const raw = await streamOverDirectTls(test);
  // 6 KiB of whitespace: 2 KiB past the burst, which takes 2 s to pay at 1 KiB/s.
  raw.send(" ".repeat(6 * 1024));
  await new Promise((resolve) => setTimeout(resolve, 100));
  const sent = performance.now();
  raw.send(plainAuth(...ROMEO));
  await raw.waitFor("<success", 5000);
  const waited = performance.now() - sent;
  assert.ok(waited > 1500, `the authentication was read after ${waited.toFixed(0)} ms`);
  raw.close();
});

Deno.test("direct TLS: server shutdown releases direct-TLS connections in every state", async () => {
  const test = await startDirectTls();
  const logged = await loginDirect(test);
  const silent = await tcpTo(test);
  const afterTls = await RawClient.connectDirectTls(directPort(test));
  assert.equal(test.server.connectionCount, 3);
  await test[Symbol.asyncDispose]();
  assert.equal(test.server.connectionCount, 0);
  assert.equal(test.server.connectionsPerAddress.size, 0);
  await silent.waitClosed();
  await afterTls.waitClosed();
  logged.close();
});
