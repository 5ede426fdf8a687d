// External Service Discovery (XEP-0215) over a real TLS connection: the TURN credentials a user
// gets are the ones coturn's use-auth-secret accepts, checked here with WebCrypto (not the
// server's node:crypto): username "<expiry>:<bare JID>", password base64(HMAC-SHA1(secret,
// username)), expires the same instant as an XEP-0082 date-time, about ttl_seconds from now.
import { strict as assert } from "node:assert";
import { NS } from "../lib/stanza/ns.ts";
import type { Element } from "../lib/xml/element.ts";
import { ask, login } from "./_clients.ts";
import { startTestServer } from "./_harness.ts";

const TOML = `
[external_services]
secret = "socket-secret"
ttl_seconds = 3600
turn_host = "turn.localhost"
turn_tcp = true
`;

async function hmacSha1Base64(secret: string, data: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(data)));
  return btoa(String.fromCharCode(...mac));
}

async function assertCoturnCredentials(service: Element, before: number): Promise<void> {
  const { username, password, expires, restricted } = service.attrs;
  assert.equal(restricted, "true");
  const match = /^(\d+):(.+)$/.exec(username ?? "");
  assert.ok(match, `username ${username}`);
  const expiry = Number(match[1]);
  assert.equal(match[2], "romeo@localhost");
  assert.ok(expiry >= before + 3600 && expiry <= Date.now() / 1000 + 3600, `expiry ${expiry}`);
  assert.equal(expires, new Date(expiry * 1000).toISOString().replace(/\.\d{3}Z$/, "Z"));
  assert.equal(password, await hmacSha1Base64("socket-secret", username!));
}

Deno.test("external services: TURN credentials over TLS are the ones coturn's use-auth-secret accepts", async () => {
  await using test = await startTestServer({
    accounts: [["romeo", "romeo-pass"]],
    toml: { text: TOML, origin: "external_services_test.toml" },
  });
  await using client = await login(test.port, "romeo@localhost", "romeo-pass");
  const before = Math.floor(Date.now() / 1000);

  const info = await ask(
    client,
    `<iq type='get' id='d1' to='localhost'><query xmlns='${NS.DISCO_INFO}'/></iq>`,
  );
  const features = info.getChild("query", NS.DISCO_INFO)!.getChildren("feature")
    .map((f) => f.attrs.var);
  assert.ok(features.includes(NS.EXTDISCO) && features.includes(NS.EXTDISCO_1), info.toString());

  const list = await ask(
    client,
    `<iq type='get' id='s1' to='localhost'><services xmlns='${NS.EXTDISCO}'/></iq>`,
  );
  const services = list.getChild("services", NS.EXTDISCO)!.getChildren("service");
  assert.deepEqual(
    services.map((s) => `${s.attrs.type}/${s.attrs.transport} ${s.attrs.host}:${s.attrs.port}`),
    [
      "stun/udp turn.localhost:3478",
      "stun/tcp turn.localhost:3478",
      "turn/udp turn.localhost:3478",
      "turn/tcp turn.localhost:3478",
    ],
  );
  assert.equal(services[0].attrs.username, undefined);
  for (const turn of services.slice(2)) await assertCoturnCredentials(turn, before);

  const credentials = await ask(
    client,
    `<iq type='get' id='c1' to='localhost'><credentials xmlns='${NS.EXTDISCO}'>
      <service type='turn' host='turn.localhost'/></credentials></iq>`,
  );
  const given = credentials.getChild("credentials", NS.EXTDISCO)!.getChildren("service");
  assert.equal(given.length, 2, credentials.toString());
  for (const turn of given) await assertCoturnCredentials(turn, before);
});
