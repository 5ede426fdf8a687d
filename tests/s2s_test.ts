// Federation between two Verona servers on loopback (RFC 6120 s2s): a.localhost and b.localhost
// find each other through static routes, authenticate by dialback (their certificates are the
// self-signed ones each generates, allowed by `insecure_domains`), and carry chat, presence
// subscriptions and MUC both ways.
import { strict as assert } from "node:assert";
import { login } from "./_clients.ts";
import { startTestServer, type TestServer } from "./_harness.ts";
import { freePort } from "./bench/_foreign_server.ts";
import type { ReplayClient } from "../lib/replay/client.ts";

async function twoServers(): Promise<
  { a: TestServer; b: TestServer; [Symbol.asyncDispose](): Promise<void> }
> {
  const ports = { a: freePort(), b: freePort() };
  const start = (name: "a" | "b", other: "a" | "b") =>
    startTestServer({
      accounts: [[name === "a" ? "alice" : "bob", "secret"]],
      configure: (config) => {
        config.domain = `${name}.localhost`;
        config.mucDomain = `conference.${name}.localhost`;
        Object.assign(config.s2s, {
          port: ports[name],
          insecureDomains: [`${other}.localhost`, `conference.${other}.localhost`],
          staticRoutes: new Map([
            [`${other}.localhost`, { host: "127.0.0.1", port: ports[other] }],
            [`conference.${other}.localhost`, { host: "127.0.0.1", port: ports[other] }],
          ]),
          retryAfterS: 0,
        });
      },
    });
  const a = await start("a", "b");
  const b = await start("b", "a");
  return {
    a,
    b,
    async [Symbol.asyncDispose]() {
      await Promise.all([a[Symbol.asyncDispose](), b[Symbol.asyncDispose]()]);
    },
  };
}

async function next(client: ReplayClient, name?: string) {
  for (;;) {
    const { stanza } = await client.waitForStanza({ timeoutMs: 8000 });
    if (name === undefined || stanza.name === name) return stanza;
  }
}

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
  } finally {
    alice.close();
    bob.close();
  }
});
