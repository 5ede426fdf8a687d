import { strict as assert } from "node:assert";
import { parseConfigToml } from "../config/config.ts";
import { ConfigError } from "../config/mod.ts";
import { assertStanza, parseBlock } from "../replay/match.ts";
import { Router } from "../router/router.ts";
import { recordingSession } from "../router/testing.ts";
import { NS } from "../stanza/ns.ts";
import { externalServicesModule } from "./external_services.ts";
import { configuredServices, type ExternalService, MAX_SERVICES } from "./_options.ts";

const NOW = 1767225600_000 - 86_400_000; // credentials expire at 2026-01-01T00:00:00Z

const SERVICES: ExternalService[] = [
  { type: "stun", host: "turn.example.org", port: 3478, transport: "udp", restricted: false },
  { type: "turn", host: "turn.example.org", port: 3478, transport: "udp", restricted: true },
  { type: "turns", host: "turn.example.org", port: 5349, transport: "tcp", restricted: true },
];

function setUp(services: readonly ExternalService[] = SERVICES) {
  const router = new Router({ domain: "example.org", accountExists: () => true, log: () => {} });
  externalServicesModule(router, services, {
    secret: "north-wind",
    ttlSeconds: 86_400,
    now: () => NOW,
  });
  const { session, received } = recordingSession("romeo@example.org/orchard");
  router.bind(session);
  const ask = async (xml: string, fromClient = true) => {
    received.length = 0;
    const [stanza] = parseBlock(xml);
    stanza.attrs.from = "romeo@example.org/orchard";
    await router.route(stanza, fromClient ? session : undefined);
    const answer = received[0];
    return answer.clone({ ...answer.attrs, xmlns: NS.CLIENT });
  };
  return { router, ask };
}

const TURN_ATTRS = `restricted='true' username='1767225600:romeo@example.org'
  password='4dUXhUN8T90OvBOOLYopVZbGTXI=' expires='2026-01-01T00:00:00Z'`;

Deno.test("<services/> lists every service, restricted ones with their credentials", async () => {
  const { ask } = setUp();
  assertStanza(
    await ask(`<iq type='get' id='s1' to='example.org'><services xmlns='${NS.EXTDISCO}'/></iq>`),
    `<iq type='result' id='s1' from='example.org'>
      <services xmlns='${NS.EXTDISCO}'>
        <service type='stun' host='turn.example.org' port='3478' transport='udp'/>
        <service type='turn' host='turn.example.org' port='3478' transport='udp' ${TURN_ATTRS}/>
        <service type='turns' host='turn.example.org' port='5349' transport='tcp'
          restricted='true' username='{scansion:any}' password='{scansion:any}' expires='{scansion:any}'/>
      </services>
    </iq>`,
  );
});

Deno.test("<services type='turn'/> lists only that type, and echoes it (§3.2)", async () => {
  const { ask } = setUp();
  assertStanza(
    await ask(
      `<iq type='get' id='s2' to='example.org'><services xmlns='${NS.EXTDISCO}' type='turn'/></iq>`,
    ),
    `<iq type='result' id='s2'>
      <services xmlns='${NS.EXTDISCO}' type='turn'>
        <service type='turn' host='turn.example.org' port='3478' transport='udp' ${TURN_ATTRS}/>
      </services>
    </iq>`,
  );
  assertStanza(
    await ask(
      `<iq type='get' id='s3' to='example.org'><services xmlns='${NS.EXTDISCO}' type='ftp'/></iq>`,
    ),
    `<iq type='result' id='s3'><services xmlns='${NS.EXTDISCO}' type='ftp'/></iq>`,
  );
});

Deno.test("version 0.6 (urn:xmpp:extdisco:1) is answered in its own namespace", async () => {
  const { ask } = setUp();
  const answer = await ask(
    `<iq type='get' id='s4' to='example.org'><services xmlns='${NS.EXTDISCO_1}'/></iq>`,
  );
  assert.equal(answer.getChild("services", NS.EXTDISCO_1)?.getChildren("service").length, 3);
});

Deno.test("<credentials/> gives credentials for the services of that type and host (§3.3)", async () => {
  const { ask } = setUp();
  const credentials = (service: string) =>
    ask(
      `<iq type='get' id='c1' to='example.org'><credentials xmlns='${NS.EXTDISCO}'>${service}</credentials></iq>`,
    );
  assertStanza(
    await credentials(`<service type='turn' host='turn.example.org'/>`),
    `<iq type='result' id='c1'>
      <credentials xmlns='${NS.EXTDISCO}'>
        <service type='turn' host='turn.example.org' port='3478' transport='udp' ${TURN_ATTRS}/>
      </credentials>
    </iq>`,
  );
  assertStanza(
    await credentials(`<service type='turn' host='turn.example.org' port='3479'/>`),
    `<iq type='error' id='c1'><error type='cancel'><item-not-found xmlns='${NS.STANZA_ERRORS}'/></error></iq>`,
  );
  // A STUN server needs no credentials.
  assertStanza(
    await credentials(`<service type='stun' host='turn.example.org'/>`),
    `<iq type='error' id='c1'><error type='cancel'><item-not-found xmlns='${NS.STANZA_ERRORS}'/></error></iq>`,
  );
  for (
    const bad of [
      "",
      `<service host='turn.example.org'/>`,
      `<service type='turn' host='turn.example.org' port='x'/>`,
    ]
  ) {
    assertStanza(
      await credentials(bad),
      `<iq type='error' id='c1'><error type='modify'><bad-request xmlns='${NS.STANZA_ERRORS}'/></error></iq>`,
    );
  }
});

Deno.test("only local users' gets are answered", async () => {
  const { ask } = setUp();
  assertStanza(
    await ask(
      `<iq type='get' id='f1' to='example.org'><services xmlns='${NS.EXTDISCO}'/></iq>`,
      false,
    ),
    `<iq type='error' id='f1'><error type='auth'><forbidden xmlns='${NS.STANZA_ERRORS}'/></error></iq>`,
  );
  assertStanza(
    await ask(`<iq type='set' id='f2' to='example.org'><services xmlns='${NS.EXTDISCO}'/></iq>`),
    `<iq type='error' id='f2'><error type='cancel'><not-allowed xmlns='${NS.STANZA_ERRORS}'/></error></iq>`,
  );
});

Deno.test("with no services nothing is registered: no feature, service-unavailable", async () => {
  const { router, ask } = setUp([]);
  assert.deepEqual(router.iq.namespaces("server"), []);
  assertStanza(
    await ask(`<iq type='get' id='n1' to='example.org'><services xmlns='${NS.EXTDISCO}'/></iq>`),
    `<iq type='error' id='n1'><error type='cancel'><service-unavailable xmlns='${NS.STANZA_ERRORS}'/></error></iq>`,
  );
});

Deno.test("[external_services] reads services and the turn_host shortcut", () => {
  const config = parseConfigToml(
    `[external_services]
secret = "north-wind"
turn_host = "turn.example.org"
turn_tcp = true
turn_tls_port = 5349

[[external_services.services]]
type = "stun"
host = "2001:db8::1"
name = "Backup STUN"
`,
    "x.toml",
  );
  assert.deepEqual(
    configuredServices(config.external_services).map((s) =>
      `${s.type}/${s.transport} ${s.host}:${s.port}${s.restricted ? " restricted" : ""}${
        s.name ? ` (${s.name})` : ""
      }`
    ),
    [
      "stun/udp turn.example.org:3478",
      "stun/tcp turn.example.org:3478",
      "turn/udp turn.example.org:3478 restricted",
      "turn/tcp turn.example.org:3478 restricted",
      "turns/tcp turn.example.org:5349 restricted",
      "stun/udp 2001:db8::1:3478 (Backup STUN)",
    ],
  );
});

Deno.test("[external_services] refuses bad services, too many, and restricted ones without a secret", () => {
  const cases: [string, RegExp][] = [
    [
      `[[external_services.services]]\ntype = "ftp"\nhost = "a.example"`,
      /services\[0\]\.type must be "stun", "turn" or "turns", got "ftp"/,
    ],
    [`[[external_services.services]]\ntype = "stun"`, /services\[0\]\.host is required/],
    [
      `[[external_services.services]]\ntype = "stun"\nhost = "not a host"`,
      /services\[0\]\.host must be a DNS name/,
    ],
    [
      `[[external_services.services]]\ntype = "stun"\nhost = "a.example"\nport = 70000`,
      /services\[0\]\.port must be an integer from 1 to 65535/,
    ],
    [
      `[[external_services.services]]\ntype = "stun"\nhost = "a.example"\nuser = "x"`,
      /unknown key "external_services\.services\[0\]\.user"/,
    ],
    [
      `[[external_services.services]]\ntype = "turn"\nhost = "a.example"`,
      /services\[0\] is restricted .*secret is not set/,
    ],
    [`[external_services]\nturn_host = "a.example"`, /secret must be set with turn_host/],
    [
      `[external_services]\nsecret = "s"\nturn_host = "a.example"\nturn_tcp = true\nturn_tls_port = 5349\n` +
      `[[external_services.services]]\ntype = "stun"\nhost = "b.example"\n`.repeat(
        MAX_SERVICES - 4,
      ),
      /at most 32 services, the turn_host shortcut's included, got 33/,
    ],
    [
      `[[external_services.services]]\ntype = "stun"\nhost = "b.example"\n`.repeat(
        MAX_SERVICES + 1,
      ),
      /at most 32 services/,
    ],
  ];
  for (const [toml, message] of cases) {
    assert.throws(() => parseConfigToml(toml, "x.toml"), (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
});
