// The compliance checks (tests/compliance) against a real server over TLS: every check of the
// multi-device and mobile set passes with the default configuration, as does XMPP over direct
// TLS on its port, and turning a module off makes its check fail (so the checks look at what
// they claim to).
import { strict as assert } from "node:assert";
import { CHECKS, evaluate, probe } from "./compliance/checks.ts";
import { startTestServer } from "./_harness.ts";
import type { Config } from "../lib/config/mod.ts";

const CORE = new Set(CHECKS.filter((c) => c.core).map((c) => `${c.xep} ${c.name}`));

/** The checks' outcomes; `--direct-tls-port` is the server's (the c2s port when it has none). */
async function results(configure?: (config: Config) => void) {
  await using test = await startTestServer({
    accounts: [["romeo", "romeo-pass"]],
    configure: (config) => {
      config.directTlsPort = 0; // the default is 5223; a free port here
      configure?.(config);
    },
  });
  const found = evaluate(
    await probe({
      host: "127.0.0.1",
      port: test.port,
      jid: "romeo@localhost",
      password: "romeo-pass",
      directTlsPort: test.server.directTlsPort ?? test.port,
    }),
  );
  return new Map(found.map(({ check, passed }) => [`${check.xep} ${check.name}`, passed]));
}

Deno.test("compliance: every core check passes with the default configuration", async () => {
  const found = await results();
  const failing = [...found].filter(([name, passed]) => !passed && CORE.has(name));
  assert.deepEqual(failing, [], `failing core checks: ${failing.map(([n]) => n).join(", ")}`);
  for (
    const name of [
      "XEP-0280 Message Carbons",
      "XEP-0191 Blocking Command",
      "XEP-0045 Multi-User Chat",
      "XEP-0368 XMPP over direct TLS",
      "XEP-0357 Push Notifications",
      "XEP-0363 HTTP File Upload",
    ]
  ) {
    assert.equal(found.get(name), true, name);
  }
});

Deno.test("compliance: the checks see modules turned off", async () => {
  const found = await results((config) => {
    for (const name of ["mam", "pep", "carbons", "push"] as const) config[name].enabled = false;
    config.directTlsPort = null; // the direct-TLS check then tries the STARTTLS port
  });
  for (
    const name of [
      "XEP-0313 Message Archive Management",
      "XEP-0163 Personal Eventing Protocol",
      "XEP-0384 OMEMO Encryption (PEP publish-options)",
      "XEP-0398 User Avatar to vCard-Based Avatars Conversion",
      "XEP-0280 Message Carbons",
      "XEP-0368 XMPP over direct TLS",
      "XEP-0357 Push Notifications",
    ]
  ) {
    assert.equal(found.get(name), false, name);
  }
  assert.equal(found.get("XEP-0198 Stream Management"), true);
});

Deno.test("compliance: the External Service Discovery check passes once a TURN server is configured", async () => {
  const found = await results((config) => {
    config.external_services.secret = "compliance-secret";
    config.external_services.turnHost = "turn.localhost";
  });
  assert.equal(found.get("XEP-0215 External Service Discovery (STUN/TURN)"), true);
  assert.equal((await results()).get("XEP-0215 External Service Discovery (STUN/TURN)"), false);
});

Deno.test("compliance: the SOCKS5 Bytestreams proxy check passes once proxy65 is enabled", async () => {
  const found = await results((config) => {
    Object.assign(config.proxy65, { enabled: true, port: 0, bind: "127.0.0.1" });
  });
  assert.equal(found.get("XEP-0065 SOCKS5 Bytestreams proxy"), true);
  // Off by default (lib/proxy65/mod.ts says why).
  assert.equal((await results()).get("XEP-0065 SOCKS5 Bytestreams proxy"), false);
});
