// Expensive or idle pre-authentication work is bounded: an address that keeps failing SASL gets
// temporary-auth-failure without any SCRAM work while other addresses log in, and idle
// unauthenticated connections are let go sooner while the server is under connection pressure.
import { strict as assert } from "node:assert";
import { login } from "./_clients.ts";
import { startTestServer } from "./_harness.ts";
import { RawClient } from "./_raw_client.ts";

const ACCOUNTS: [string, string][] = [["romeo", "r0me0-pass"]];

async function failOnce(port: number, localAddress?: string): Promise<string> {
  const raw = await RawClient.connect(port, localAddress);
  try {
    await raw.startTls();
    raw.send(
      `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${
        btoa("\0romeo\0not-the-password")
      }</auth>`,
    );
    await raw.waitFor("</failure>");
    return raw.text.match(/<failure[^>]*><([a-z-]+)/)?.[1] ?? raw.text;
  } finally {
    raw.close();
  }
}

Deno.test("an address that keeps failing authentication is refused at once; others are not", async () => {
  await using test = await startTestServer({
    accounts: ACCOUNTS,
    configure: (config) => {
      config.limits.authFailuresPerIpBurst = 3;
      config.limits.authFailuresPerIpPerMinute = 1;
    },
  });
  for (let i = 0; i < 3; i++) assert.equal(await failOnce(test.port), "not-authorized");
  const started = performance.now();
  assert.equal(await failOnce(test.port), "temporary-auth-failure");
  assert.ok(performance.now() - started < 1000, "answered without the failure delay");
  // The right password from that address is refused too for now, but another address is fine.
  await assert.rejects(login(test.port, "romeo@localhost", "r0me0-pass"), /temporary-auth-failure/);
  assert.equal(await failOnce(test.port, "127.0.0.2"), "not-authorized");
  const other = await login(test.port, "romeo@localhost", "r0me0-pass", {
    localAddress: "127.0.0.3",
  });
  await other.disconnect();
});

Deno.test("idle unauthenticated connections get a shorter timeout under connection pressure", async () => {
  await using test = await startTestServer({
    accounts: ACCOUNTS,
    configure: (config) => {
      config.limits.maxConnections = 4;
      config.limits.maxConnectionsPerIp = 4;
      config.limits.pressureNegotiationTimeoutMs = 300;
    },
  });
  // One idle connection out of four allowed: no pressure, it may take its time.
  const alone = await RawClient.connect(test.port);
  await new Promise((resolve) => setTimeout(resolve, 700));
  assert.ok(!alone.closed, "no pressure: the full negotiation timeout applies");
  // A second one makes half the limit: idle ones are let go until the pressure is off.
  const second = await RawClient.connect(test.port);
  await alone.waitFor("connection-timeout", 2000);
  await alone.waitClosed();
  assert.match(alone.text, /The server is busy: log in sooner/);
  await new Promise((resolve) => setTimeout(resolve, 700));
  assert.ok(!second.closed, "once below half the limit, the rest may take their time");
  second.close();
  // A client that logs in meanwhile is not affected.
  const client = await login(test.port, "romeo@localhost", "r0me0-pass");
  await new Promise((resolve) => setTimeout(resolve, 400));
  await client.sync();
  await client.disconnect();
});
