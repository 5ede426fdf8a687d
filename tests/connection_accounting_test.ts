// Every connection is counted once on the way in and once on the way out, whatever ends it:
// after hundreds of STARTTLS logins and every kind of ending, with small limits, the server
// still accepts logins from the same and from a fresh address, and its counts are back to zero.
import { strict as assert } from "node:assert";
import { ReplayClient } from "../lib/replay/client.ts";
import { login } from "./_clients.ts";
import {
  countsBackToZero,
  endEachWay,
  type Endings,
  startTestServer,
  type TestServer,
} from "./_harness.ts";
import { openStream, RawClient } from "./_raw_client.ts";

const ACCOUNTS: [string, string][] = [["romeo", "r0me0-pass"], ["juliet", "juliet-pass"]];
const SEQUENTIAL_LOGINS = 250;
/** A second loopback address: Linux routes all of 127.0.0.0/8 to the loopback interface. */
const FRESH_ADDRESS = "127.0.0.2";

async function startSmall(): Promise<TestServer> {
  return await startTestServer({
    accounts: ACCOUNTS,
    configure: (config) => {
      config.limits.maxConnections = 20;
      config.limits.maxConnectionsPerIp = 5;
      config.limits.negotiationTimeoutMs = 300;
    },
  });
}

function loginFrom(test: TestServer, localAddress?: string): Promise<ReplayClient> {
  return login(test.port, "romeo@localhost", "r0me0-pass", { localAddress });
}

/** Peers that never close their side; closed by the test once the server has let them go. */
const lingering: RawClient[] = [];

/** Each way a connection can end, one after another, more times than the per-address limit. */
const ENDINGS: Endings = {
  "peer closes a bare TCP connection": async (test) => {
    const raw = await RawClient.connect(test.port);
    raw.close();
  },
  "peer closes after the stream header": async (test) => {
    const raw = await RawClient.connect(test.port);
    raw.send(openStream());
    await raw.waitFor("</stream:features>");
    raw.close();
  },
  "peer drops the connection right after <proceed/>": async (test) => {
    const raw = await RawClient.connect(test.port);
    raw.send(openStream());
    await raw.waitFor("</stream:features>");
    raw.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await raw.waitFor("<proceed");
    raw.close();
  },
  "the TLS handshake fails": async (test) => {
    const raw = await RawClient.connect(test.port);
    raw.send(openStream());
    await raw.waitFor("</stream:features>");
    raw.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await raw.waitFor("<proceed");
    raw.send("this is not a TLS ClientHello\r\n".repeat(8));
    await raw.waitClosed();
  },
  "a stream error after STARTTLS": async (test) => {
    const raw = await RawClient.connect(test.port);
    await raw.startTls();
    raw.send("<message><body>hi</message>");
    await raw.waitFor("not-well-formed");
    await raw.waitClosed();
  },
  "a stream error the peer never answers (server-side linger)": async (test) => {
    const raw = await RawClient.connect(test.port);
    await raw.startTls();
    raw.send("<message><body>hi</message>");
    await raw.waitFor("</stream:stream>");
    // The peer keeps its side open; the server must not count it forever.
    lingering.push(raw);
  },
  "too many failed SASL attempts": async (test) => {
    const raw = await RawClient.connect(test.port);
    await raw.startTls();
    for (let i = 0; i < 3; i++) {
      raw.send(
        `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${
          btoa("\0romeo\0wrong")
        }</auth>`,
      );
    }
    await raw.waitFor("policy-violation");
    await raw.waitClosed();
  },
  "the negotiation timeout": async (test) => {
    const raw = await RawClient.connect(test.port);
    await raw.startTls();
    await raw.waitFor("connection-timeout", 3000);
    await raw.waitClosed();
  },
  "a logged-in peer drops the TLS connection without closing the stream": async (test) => {
    const client = await login(test.port, "juliet@localhost", "juliet-pass");
    client.send("<presence/>");
    await client.sync();
    client.close();
  },
  "a session replaced by a login to the same resource (conflict)": async (test) => {
    const first = new ReplayClient();
    await first.connect({
      host: "127.0.0.1",
      port: test.port,
      jid: "juliet@localhost/phone",
      password: "juliet-pass",
    });
    const second = new ReplayClient();
    await second.connect({
      host: "127.0.0.1",
      port: test.port,
      jid: "juliet@localhost/phone",
      password: "juliet-pass",
    });
    await first.waitForStanza({ timeoutMs: 2000 }).catch(() => {});
    await second.disconnect();
    first.close();
  },
};

Deno.test("connection counts return to zero after hundreds of STARTTLS logins and every kind of ending", async () => {
  await using test = await startSmall();
  for (let i = 0; i < SEQUENTIAL_LOGINS; i++) {
    const client = await loginFrom(test);
    await client.disconnect();
  }
  await countsBackToZero(test);

  await endEachWay(test, ENDINGS);
  await countsBackToZero(test);
  for (const raw of lingering.splice(0)) raw.close();

  // The limits still let people in, from the same address and from a fresh one.
  const same = await loginFrom(test);
  const fresh = await loginFrom(test, FRESH_ADDRESS);
  assert.equal(test.server.connectionsPerAddress.get(FRESH_ADDRESS), 1);
  await same.disconnect();
  await fresh.disconnect();
  await countsBackToZero(test);
  assert.ok(
    !test.log.some((line) => line.includes("refused connection")),
    `no connection was refused: ${test.log.filter((l) => l.includes("refused")).join("\n")}`,
  );
});

Deno.test("the per-address limit still refuses the sixth concurrent connection, and frees on close", async () => {
  await using test = await startSmall();
  const held: ReplayClient[] = [];
  for (let i = 0; i < 5; i++) held.push(await loginFrom(test));
  assert.equal(test.server.connectionCount, 5);
  await assert.rejects(loginFrom(test));
  assert.ok(test.log.some((line) => line.includes("too many from address")));
  const other = await loginFrom(test, FRESH_ADDRESS); // another address is still served
  await other.disconnect();
  for (const client of held) await client.disconnect();
  await countsBackToZero(test);
  const again = await loginFrom(test);
  await again.disconnect();
});

Deno.test("server shutdown releases every connection, whatever state it is in", async () => {
  const test = await startSmall();
  const logged = await loginFrom(test);
  const plain = await RawClient.connect(test.port);
  const afterTls = await RawClient.connect(test.port);
  await afterTls.startTls();
  assert.equal(test.server.connectionCount, 3);
  await test[Symbol.asyncDispose]();
  assert.equal(test.server.connectionCount, 0);
  assert.equal(test.server.connectionsPerAddress.size, 0);
  await plain.waitClosed();
  await afterTls.waitClosed();
  logged.close();
});
