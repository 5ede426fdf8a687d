// Bad input gets the right stream or SASL error, and the server keeps serving others.
import { strict as assert } from "node:assert";
import { ReplayClient } from "../lib/replay/client.ts";
import { login } from "./_clients.ts";
import { startTestServer, type TestServer } from "./_harness.ts";
import { openStream, RawClient } from "./_raw_client.ts";

const ACCOUNTS: [string, string][] = [["romeo", "r0me0-pass"], ["juliet", "juliet-pass"]];

/** A logged-in bystander that must be unaffected by the bad client. */
function bystander(test: TestServer): Promise<ReplayClient> {
  return login(test.port, "juliet@localhost", "juliet-pass");
}

async function expectStreamError(
  input: (raw: RawClient) => Promise<void> | void,
  condition: string,
  options: { tls?: boolean } = {},
): Promise<void> {
  await using test = await startTestServer({ accounts: ACCOUNTS });
  const other = await bystander(test);
  const raw = await RawClient.connect(test.port);
  try {
    if (options.tls !== false) await raw.startTls();
    await input(raw);
    await raw.waitFor(`<${condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`);
    await raw.waitFor("</stream:stream>");
    await raw.waitClosed();
    assert.match(raw.text, /<stream:error>/);
    await other.sync(); // still served
  } finally {
    raw.close();
    await other.disconnect();
  }
}

Deno.test("malformed XML gets not-well-formed and a closed stream", async () => {
  await expectStreamError((raw) => raw.send("<message><body>hi</message>"), "not-well-formed");
});

Deno.test("a DOCTYPE gets restricted-xml", async () => {
  await expectStreamError(
    (raw) => raw.send("<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY x 'y'>]>" + openStream()),
    "restricted-xml",
    { tls: false },
  );
});

Deno.test("a comment inside the stream gets restricted-xml", async () => {
  await expectStreamError((raw) => raw.send("<!-- hello -->"), "restricted-xml");
});

Deno.test("an oversized stanza gets policy-violation", async () => {
  // Logged in: before authentication the input rate (10 KiB/s) would make this a slow test.
  await expectStreamError(async (raw) => {
    await raw.login("romeo", "r0me0-pass");
    raw.send("<message to='juliet@localhost'><body>");
    const chunk = "x".repeat(16 * 1024);
    for (let i = 0; i < 20; i++) raw.send(chunk); // 320 KiB > 256 KiB default
    raw.send("</body></message>");
  }, "policy-violation");
});

Deno.test("a stream to an unknown host gets host-unknown", async () => {
  await expectStreamError((raw) => raw.send(openStream("elsewhere.example")), "host-unknown", {
    tls: false,
  });
});

Deno.test("stanzas before authentication get not-authorized", async () => {
  await expectStreamError(
    (raw) => raw.send("<message to='juliet@localhost'><body>hi</body></message>"),
    "not-authorized",
  );
});

Deno.test("SASL with a wrong password fails with not-authorized, then the stream closes after the limit", async () => {
  await using test = await startTestServer({ accounts: ACCOUNTS });
  const other = await bystander(test);
  const raw = await RawClient.connect(test.port);
  try {
    await raw.startTls();
    const wrong = btoa("\0romeo\0not-the-password");
    for (let attempt = 1; attempt <= 3; attempt++) {
      raw.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${wrong}</auth>`);
      await raw.waitFor(
        new RegExp(`(<failure[^>]*><not-authorized/></failure>.*){${attempt}}`, "s"),
      );
    }
    await raw.waitFor("<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>");
    await raw.waitClosed();
    await other.sync();
  } finally {
    raw.close();
    await other.disconnect();
  }
});

Deno.test("SASL PLAIN is not offered before TLS, and SASL is refused before TLS", async () => {
  await using test = await startTestServer({ accounts: ACCOUNTS });
  const raw = await RawClient.connect(test.port);
  try {
    raw.send(openStream());
    await raw.waitFor("</stream:features>");
    assert.match(
      raw.text,
      /<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required\/><\/starttls>/,
    );
    assert.doesNotMatch(raw.text, /<mechanisms/);
    raw.send(
      `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${
        btoa("\0romeo\0r0me0-pass")
      }</auth>`,
    );
    await raw.waitFor("<encryption-required/>");
  } finally {
    raw.close();
  }
});

Deno.test("binding a resource in use replaces the old session, which gets conflict", async () => {
  await using test = await startTestServer({ accounts: ACCOUNTS });
  const login = async () => {
    const client = new ReplayClient();
    await client.connect({
      host: "127.0.0.1",
      port: test.port,
      jid: "romeo@localhost/orchard",
      password: "r0me0-pass",
    });
    return client;
  };
  const first = await login();
  const second = await login();
  try {
    assert.equal(second.fullJid, "romeo@localhost/orchard");
    const deadline = Date.now() + 5000;
    while (!first.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(first.streamError?.condition, "conflict");
    await second.sync();
  } finally {
    first.close();
    await second.disconnect();
  }
});

Deno.test("connections past the per-address limit are refused, others are served", async () => {
  await using test = await startTestServer({
    accounts: ACCOUNTS,
    configure: (config) => config.limits.maxConnectionsPerIp = 2,
  });
  const other = await bystander(test);
  const second = await RawClient.connect(test.port);
  const third = await RawClient.connect(test.port);
  try {
    await third.waitClosed();
    second.send(openStream());
    await second.waitFor("</stream:features>");
    await other.sync();
    assert.ok(test.log.some((line) => line.includes("too many from address")));
  } finally {
    second.close();
    third.close();
    await other.disconnect();
  }
});

Deno.test("whitespace keepalives between stanzas are accepted", async () => {
  await using test = await startTestServer({ accounts: ACCOUNTS });
  const client = await bystander(test);
  try {
    client.send(" \n\t ");
    await client.sync();
    client.send("\n");
    await client.sync();
  } finally {
    await client.disconnect();
  }
});

Deno.test("stanzas queued behind STARTTLS in the same plaintext chunk are dropped with the old stream", async () => {
  await using test = await startTestServer({ accounts: ACCOUNTS });
  const raw = await RawClient.connect(test.port);
  try {
    raw.send(openStream());
    await raw.waitFor("</stream:features>");
    // The register iq is handled asynchronously, so what follows it waits in the stream's queue:
    // an <auth/> injected in plaintext must not run once the connection is encrypted.
    raw.send(
      "<iq type='get' id='reg'><query xmlns='jabber:iq:register'/></iq>" +
        "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" +
        `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${
          btoa("\0romeo\0r0me0-pass")
        }</auth>`,
    );
    await raw.waitFor("<proceed");
    await raw.upgradeToTls();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.doesNotMatch(raw.text, /<success/);
    assert.match(raw.text, /<mechanisms/, "the new stream starts unauthenticated");
  } finally {
    raw.close();
  }
});
