import { strict as assert } from "node:assert";
import { join } from "node:path";
import { type Config, ConfigError, defaultConfig, loadConfig, parseConfigToml } from "./config.ts";

const EXAMPLE = new URL("./verona.example.toml", import.meta.url);

/** The built-in modules' sections when nothing is configured: every module on. */
const MODULE_DEFAULTS = {
  disco: { enabled: true },
  ping: { enabled: true },
  version: { enabled: true },
  roster: { enabled: true },
  blocking: { enabled: true, bounce: true },
  last_activity: { enabled: true },
  presence: { enabled: true },
  offline: { enabled: true, maxMessages: 100 },
  carbons: { enabled: true },
  mam: {
    enabled: true,
    defaultPolicy: "always",
    expiresAfter: 604_800_000,
    pageSize: 20,
    maxPageSize: 50,
  },
  entity_time: { enabled: true },
  http: {
    enabled: true,
    port: 5280,
    httpsPort: 5281,
    bind: "0.0.0.0",
    externalUrl: "",
    requestsPerSecond: 50,
    requestBurst: 200,
  },
  contact: {
    enabled: true,
    abuse: [],
    admin: [],
    feedback: [],
    sales: [],
    security: [],
    support: [],
  },
  external_services: {
    enabled: true,
    services: [],
    secret: "",
    ttlSeconds: 86400,
    turnHost: "",
    turnPort: 3478,
    turnTcp: false,
    turnTlsPort: 0,
  },
  vcard: { enabled: true, maxBytes: 131072 },
  private_storage: { enabled: true, maxBytes: 65536, maxElements: 256 },
  caps: { enabled: true, maxCachedHashes: 10000 },
  pep: {
    enabled: true,
    maxItems: 256,
    maxNodes: 256,
    maxPayloadBytes: 131072,
    maxAffiliations: 256,
    maxPageItems: 64,
  },
  bookmarks: { enabled: true },
  avatars: { enabled: true },
  registration: { enabled: true, allow: false, tombstoneDays: 30, minSecondsBetween: 300 },
  muc: {
    enabled: true,
    archiving: true,
    archiveExpiresAfter: 604_800_000,
    vcardMaxBytes: 131072,
  },
  proxy65: {
    enabled: false,
    domain: "",
    port: 7777,
    bind: "0.0.0.0",
    host: "",
    maxPending: 200,
    maxPendingPerAddress: 20,
    maxActive: 100,
    maxActivePerUser: 5,
    rateBytes: 1048576,
    burstBytes: 1048576,
    pendingTimeoutMs: 60000,
    idleTimeoutMs: 300000,
    maxTransferBytes: 0,
  },
  websocket: {
    enabled: true,
    path: "/xmpp-websocket",
    considerSecure: false,
    trustedProxies: ["127.0.0.1", "::1"],
    maxMessageBytes: 262144,
    maxConnections: 10000,
    maxConnectionsPerIp: 200,
    maxSendQueueBytes: 2097152,
    idleTimeoutSeconds: 60,
  },
  host_meta: { enabled: true, links: [], websocket: true },
  metrics: {
    enabled: true,
    allowIps: ["127.0.0.1", "::1"],
    statusPage: true,
  },
  http_upload: {
    enabled: true,
    domain: "",
    name: "HTTP File Upload",
    maxFileSize: 104857600,
    quotaBytes: 1073741824,
    dailyQuotaBytes: 0,
    expiresAfter: 604_800_000,
    allowedTypes: [],
    slotTimeout: 300,
    slotsPerMinute: 30,
  },
  push: {
    enabled: true,
    includeBody: false,
    includeSender: true,
    maxRegistrations: 10,
    maxFormBytes: 4096,
    throttleSeconds: 30,
    replyTimeoutSeconds: 30,
  },
  s2s: {
    enabled: true,
    port: 5269,
    directTlsPort: null,
    bind: "0.0.0.0",
    requireEncryption: true,
    secureAuth: true,
    insecureDomains: [],
    caFile: "",
    staticRoutes: new Map(),
    dnsServer: "",
    bidirectional: true,
    connectTimeoutS: 10,
    negotiationTimeoutS: 30,
    idleTimeoutS: 300,
    retryAfterS: 5,
    maxQueueStanzas: 1000,
    maxQueueBytes: 1048576,
    maxTotalQueueBytes: 16777216,
    maxOutgoingConnections: 1000,
    maxStanzaBytes: 524288,
    maxConnections: 1000,
    maxConnectionsPerIp: 50,
    maxSendQueueBytes: 8388608,
    preauthRateBytes: 16384,
    rateBytes: 4194304,
    burstBytes: 8388608,
  },
};

function expected(changes: Partial<Config> = {}): Config {
  return { ...defaultConfig(), ...changes };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function assertConfigError(fn: () => unknown, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    assert.equal(error.message, message);
    return true;
  });
}

Deno.test("defaultConfig() has the documented defaults", () => {
  assert.deepEqual(defaultConfig(), {
    domain: "localhost",
    mucDomain: "conference.localhost",
    port: 5222,
    directTlsPort: 5223,
    bind: "0.0.0.0",
    dataDir: "./data",
    databasePath: join("./data", "verona.sqlite"),
    admins: [],
    tls: { certFile: null, keyFile: null, required: true },
    limits: {
      maxStanzaBytes: 262144,
      maxDepth: 32,
      maxConnections: 10000,
      maxConnectionsPerIp: 200,
      authAttempts: 3,
      authFailureDelayMs: 500,
      negotiationTimeoutMs: 60000,
      maxSendQueueBytes: 2097152,
      maxTotalSendQueueBytes: 268435456,
      preauthRateBytes: 10240,
      preauthBurstBytes: 65536,
      c2sRateBytes: 65536,
      c2sBurstBytes: 524288,
      authFailuresPerIpBurst: 10,
      authFailuresPerIpPerMinute: 30,
      pressureNegotiationTimeoutMs: 10000,
      smResumeTimeoutS: 600,
      smMaxUnackedStanzas: 5000,
      smMaxUnackedBytes: 1048576,
      csiMaxHeld: 256,
    },
    ...MODULE_DEFAULTS,
  });
  // A fresh object each time: callers may mutate theirs.
  const a = defaultConfig();
  a.admins.push("x@y");
  a.limits.maxDepth = 1;
  assert.deepEqual(defaultConfig().admins, []);
  assert.equal(defaultConfig().limits.maxDepth, 32);
});

Deno.test("verona.example.toml parses to exactly the defaults", async () => {
  const text = await Deno.readTextFile(EXAMPLE);
  assert.deepEqual(parseConfigToml(text, "verona.example.toml"), defaultConfig());
});

Deno.test("parseConfigToml() of an empty file gives the defaults", () => {
  assert.deepEqual(parseConfigToml("", "empty.toml"), defaultConfig());
});

Deno.test("parseConfigToml() reads a full file", () => {
  const text = `
domain = "example.org"
muc_domain = "rooms.example.org"
port = 5223
direct_tls_port = 5224
bind = "::"
data_dir = "/var/lib/verona"
database = "/var/lib/verona/db.sqlite"
admins = ["admin@example.org", "ops@example.net"]

[tls]
cert = "/etc/tls/example.org.pem"
key = "/etc/tls/example.org.key"
required = false

[limits]
max_stanza_bytes = 65536
max_depth = 16
max_connections = 500
max_connections_per_ip = 20
auth_attempts = 5
auth_failure_delay_ms = 0

[registration]
allow = true
tombstone_days = 7
min_seconds_between = 60

[contact]
abuse = ["mailto:abuse@example.org"]
admin = ["xmpp:admin@example.org"]

[offline]
max_messages = 5

[blocking]
bounce = false
`;
  assert.deepEqual(parseConfigToml(text, "full.toml"), {
    domain: "example.org",
    mucDomain: "rooms.example.org",
    port: 5223,
    directTlsPort: 5224,
    bind: "::",
    dataDir: "/var/lib/verona",
    databasePath: "/var/lib/verona/db.sqlite",
    admins: ["admin@example.org", "ops@example.net"],
    tls: {
      certFile: "/etc/tls/example.org.pem",
      keyFile: "/etc/tls/example.org.key",
      required: false,
    },
    limits: {
      maxStanzaBytes: 65536,
      maxDepth: 16,
      maxConnections: 500,
      maxConnectionsPerIp: 20,
      authAttempts: 5,
      authFailureDelayMs: 0,
      negotiationTimeoutMs: 60000,
      maxSendQueueBytes: 2097152,
      maxTotalSendQueueBytes: 268435456,
      preauthRateBytes: 10240,
      preauthBurstBytes: 65536,
      c2sRateBytes: 65536,
      c2sBurstBytes: 524288,
      authFailuresPerIpBurst: 10,
      authFailuresPerIpPerMinute: 30,
      pressureNegotiationTimeoutMs: 10000,
      smResumeTimeoutS: 600,
      smMaxUnackedStanzas: 5000,
      smMaxUnackedBytes: 1048576,
      csiMaxHeld: 256,
    },
    ...MODULE_DEFAULTS,
    registration: { enabled: true, allow: true, tombstoneDays: 7, minSecondsBetween: 60 },
    contact: {
      enabled: true,
      abuse: ["mailto:abuse@example.org"],
      admin: ["xmpp:admin@example.org"],
      feedback: [],
      sales: [],
      security: [],
      support: [],
    },
    offline: { enabled: true, maxMessages: 5 },
    blocking: { enabled: true, bounce: false },
  });
});

Deno.test("parseConfigToml() derives muc domain and database path", () => {
  const config = parseConfigToml('domain = "example.org"\ndata_dir = "state"', "x.toml");
  assert.equal(config.mucDomain, "conference.example.org");
  assert.equal(config.databasePath, join("state", "verona.sqlite"));
  assert.equal(parseConfigToml('database = ":memory:"', "x.toml").databasePath, ":memory:");
});

Deno.test("parseConfigToml() resolves relative paths against baseDir only", () => {
  const text = `
data_dir = "state"
[tls]
cert = "tls/cert.pem"
key = "/abs/key.pem"
`;
  const config = parseConfigToml(text, "/etc/verona/verona.toml", { baseDir: "/etc/verona" });
  assert.equal(config.dataDir, "/etc/verona/state");
  assert.equal(config.databasePath, "/etc/verona/state/verona.sqlite");
  assert.equal(config.tls.certFile, "/etc/verona/tls/cert.pem");
  assert.equal(config.tls.keyFile, "/abs/key.pem");
  assert.equal(parseConfigToml(text, "verona.toml").dataDir, "state");
});

Deno.test("loadConfig() without a file gives the defaults, plus overrides", async () => {
  assert.deepEqual(await loadConfig(), defaultConfig());
  assert.deepEqual(await loadConfig({}), defaultConfig());
  const config = await loadConfig({
    overrides: { domain: "example.org", port: 0, dataDir: "/tmp/v", bind: "127.0.0.1" },
  });
  assert.deepEqual(
    config,
    expected({
      domain: "example.org",
      mucDomain: "conference.example.org",
      port: 0,
      bind: "127.0.0.1",
      dataDir: "/tmp/v",
      databasePath: "/tmp/v/verona.sqlite",
    }),
  );
  // Undefined overrides count as unset, as from an options parser.
  assert.deepEqual(await loadConfig({ overrides: { domain: undefined } }), defaultConfig());
});

Deno.test("loadConfig() reads the file, then applies overrides and derives", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "verona.toml");
    await Deno.writeTextFile(file, 'domain = "a.example"\nport = 5000\ndata_dir = "state"\n');
    assert.deepEqual(
      await loadConfig({ file }),
      expected({
        domain: "a.example",
        mucDomain: "conference.a.example",
        port: 5000,
        dataDir: join(dir, "state"),
        databasePath: join(dir, "state", "verona.sqlite"),
      }),
    );
    // --domain example.org → conference.example.org; --data-dir moves the derived database.
    const overridden = await loadConfig({
      file,
      overrides: { domain: "example.org", dataDir: "other" },
    });
    assert.equal(overridden.domain, "example.org");
    assert.equal(overridden.mucDomain, "conference.example.org");
    assert.equal(overridden.port, 5000);
    assert.equal(overridden.dataDir, "other");
    assert.equal(overridden.databasePath, join("other", "verona.sqlite"));
  });
});

Deno.test("loadConfig() keeps explicitly set muc_domain and database over overrides", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "verona.toml");
    await Deno.writeTextFile(file, 'muc_domain = "muc.example.org"\ndatabase = "db/v.sqlite"\n');
    const config = await loadConfig({
      file,
      overrides: { domain: "example.org", dataDir: "elsewhere" },
    });
    assert.equal(config.mucDomain, "muc.example.org");
    assert.equal(config.databasePath, join(dir, "db", "v.sqlite"));
  });
});

Deno.test("direct_tls_port: 0 turns direct TLS off, in the file and as an override", async () => {
  assert.equal(parseConfigToml("direct_tls_port = 0", "x.toml").directTlsPort, null);
  assert.equal(parseConfigToml("direct_tls_port = 443", "x.toml").directTlsPort, 443);
  assert.equal((await loadConfig({ overrides: { directTlsPort: 0 } })).directTlsPort, null);
  assert.equal((await loadConfig({ overrides: { directTlsPort: 5300 } })).directTlsPort, 5300);
  // Moving the c2s port onto the default direct-TLS port needs the other one moved or off.
  assertConfigError(
    () => parseConfigToml("port = 5223", "x.toml"),
    'Cannot load config "x.toml": direct_tls_port must differ from port, both are 5223 (0 turns direct TLS off)',
  );
  assert.equal(parseConfigToml("port = 5223\ndirect_tls_port = 0", "x.toml").port, 5223);
  await assert.rejects(
    () => loadConfig({ overrides: { directTlsPort: 65536 } }),
    new ConfigError(
      "Cannot load config: --direct-tls-port must be an integer from 0 to 65535, got 65536",
    ),
  );
});

Deno.test("loadConfig() names a missing file", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "missing.toml");
    await assert.rejects(
      () => loadConfig({ file }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.message, `Cannot load config "${file}": file not found`);
        return true;
      },
    );
  });
});

Deno.test("loadConfig() names the file in validation errors", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "x.toml");
    await Deno.writeTextFile(file, 'port = "abc"\n');
    await assert.rejects(
      () => loadConfig({ file }),
      new ConfigError(
        `Cannot load config "${file}": port must be an integer from 0 to 65535, got "abc"`,
      ),
    );
  });
});

Deno.test("loadConfig() rejects invalid overrides, naming the flag", async () => {
  await assert.rejects(
    () => loadConfig({ overrides: { port: 70000 } }),
    new ConfigError("Cannot load config: --port must be an integer from 0 to 65535, got 70000"),
  );
  await assert.rejects(
    () => loadConfig({ overrides: { domain: "Example.org" } }),
    /^ConfigError: Cannot load config: --domain must be a lowercase DNS name/,
  );
  await assert.rejects(
    () => loadConfig({ overrides: { dataDir: "" } }),
    /--data-dir must be a non-empty string, got ""/,
  );
  await assert.rejects(
    () => loadConfig({ overrides: { bind: "0.0.0.0 " } }),
    /--bind must be an IP address or host name/,
  );
});

Deno.test("parseConfigToml() reports TOML syntax errors with their position", () => {
  assertConfigError(
    () => parseConfigToml('domain = "example.org"\nport = \n', "x.toml"),
    'Cannot load config "x.toml": invalid TOML at line 2, column 8: invalid value',
  );
});

Deno.test("parseConfigToml() rejects unknown keys, including in tables", () => {
  assertConfigError(
    () => parseConfigToml("prot = 5222", "x.toml"),
    'Cannot load config "x.toml": unknown key "prot"',
  );
  assertConfigError(
    () => parseConfigToml("[tls]\ncertificate = 'a'", "x.toml"),
    'Cannot load config "x.toml": unknown key "tls.certificate"',
  );
  assertConfigError(
    () => parseConfigToml("[limits]\nmax_stanza_size = 1", "x.toml"),
    'Cannot load config "x.toml": unknown key "limits.max_stanza_size"',
  );
  assertConfigError(
    () => parseConfigToml("[limits]\nconstructor = 1", "x.toml"),
    'Cannot load config "x.toml": unknown key "limits.constructor"',
  );
  assertConfigError(
    () => parseConfigToml("[server]\nport = 1", "x.toml"),
    'Cannot load config "x.toml": unknown key "server"',
  );
});

Deno.test("parseConfigToml() rejects values of the wrong type or range", () => {
  const cases: [string, string][] = [
    ['port = "abc"', 'port must be an integer from 0 to 65535, got "abc"'],
    ["port = 65536", "port must be an integer from 0 to 65535, got 65536"],
    ["port = -1", "port must be an integer from 0 to 65535, got -1"],
    ["port = 52.5", "port must be an integer from 0 to 65535, got 52.5"],
    ["port = [1]", "port must be an integer from 0 to 65535, got an array"],
    ["port = 1979-05-27", "port must be an integer from 0 to 65535, got a date"],
    [
      'direct_tls_port = "5223"',
      'direct_tls_port must be an integer from 0 to 65535, got "5223"',
    ],
    ["direct_tls_port = -1", "direct_tls_port must be an integer from 0 to 65535, got -1"],
    ['bind = ""', 'bind must be an IP address or host name such as "0.0.0.0" or "::", got ""'],
    ["data_dir = 5", "data_dir must be a non-empty string, got 5"],
    ['database = ""', 'database must be a non-empty string, got ""'],
    ["tls = 1", "tls must be a table ([tls]), got 1"],
    ['tls = "yes"', 'tls must be a table ([tls]), got "yes"'],
    ['[tls]\nrequired = "yes"', 'tls.required must be true or false, got "yes"'],
    ["[tls]\ncert = 1", "tls.cert must be a non-empty string, got 1"],
    ["limits = [1]", "limits must be a table ([limits]), got an array"],
    ["[limits]\nmax_depth = 0", "limits.max_depth must be an integer from 2 to 10000, got 0"],
    ["[limits]\nauth_attempts = 0", "limits.auth_attempts must be an integer from 1 to 100, got 0"],
    [
      "[limits]\nmax_stanza_bytes = 10",
      "limits.max_stanza_bytes must be an integer from 1024 to 1073741824, got 10",
    ],
    [
      "[limits]\nauth_failure_delay_ms = -1",
      "limits.auth_failure_delay_ms must be an integer from 0 to 60000, got -1",
    ],
    [
      '[limits]\nmax_connections = "many"',
      'limits.max_connections must be an integer from 1 to 10000000, got "many"',
    ],
    [
      "[limits]\nmax_connections_per_ip = 0",
      "limits.max_connections_per_ip must be an integer from 1 to 10000000, got 0",
    ],
  ];
  for (const [text, message] of cases) {
    assertConfigError(
      () => parseConfigToml(text, "x.toml"),
      `Cannot load config "x.toml": ${message}`,
    );
  }
});

Deno.test("parseConfigToml() requires lowercase DNS names for domains", () => {
  const bad = [
    "Example.org",
    "example..org",
    ".example.org",
    "example.org.",
    "-example.org",
    "exa mple.org",
    "user@example.org",
    "a".repeat(64) + ".org",
    "",
  ];
  for (const domain of bad) {
    for (const key of ["domain", "muc_domain"]) {
      assertConfigError(
        () => parseConfigToml(`${key} = ${JSON.stringify(domain)}`, "x.toml"),
        `Cannot load config "x.toml": ${key} must be a lowercase DNS name such as "example.org", got ${
          JSON.stringify(domain)
        }`,
      );
    }
  }
  assertConfigError(
    () => parseConfigToml("domain = 1", "x.toml"),
    'Cannot load config "x.toml": domain must be a lowercase DNS name such as "example.org", got 1',
  );
  for (
    const domain of ["localhost", "example.org", "xn--bcher-kva.example", "a-b.c1.d", "127.0.0.1"]
  ) {
    assert.equal(parseConfigToml(`domain = "${domain}"`, "x.toml").domain, domain);
  }
});

Deno.test("parseConfigToml() requires admins to be lowercase bare JIDs", () => {
  assertConfigError(
    () => parseConfigToml('admins = "admin@example.org"', "x.toml"),
    'Cannot load config "x.toml": admins must be an array of bare JIDs such as ["admin@example.org"], got "admin@example.org"',
  );
  const bad = [
    "example.org",
    "@example.org",
    "admin@",
    "admin@example.org/phone",
    "a@b@example.org",
    "Admin@example.org",
    "ad min@example.org",
    "admin@Example.org",
  ];
  for (const jid of bad) {
    assertConfigError(
      () => parseConfigToml(`admins = ["ok@example.org", ${JSON.stringify(jid)}]`, "x.toml"),
      `Cannot load config "x.toml": admins[1] must be a lowercase bare JID "local@domain", got ${
        JSON.stringify(jid)
      }`,
    );
  }
  assertConfigError(
    () => parseConfigToml("admins = [1]", "x.toml"),
    'Cannot load config "x.toml": admins[0] must be a lowercase bare JID "local@domain", got 1',
  );
  assert.deepEqual(
    parseConfigToml('admins = ["jürgen@example.org"]', "x.toml").admins,
    ["jürgen@example.org"],
  );
});

Deno.test("parseConfigToml() checks options against each other", () => {
  assertConfigError(
    () => parseConfigToml('domain = "example.org"\nmuc_domain = "example.org"', "x.toml"),
    'Cannot load config "x.toml": muc_domain must differ from domain, both are "example.org"',
  );
  assertConfigError(
    () => parseConfigToml('[tls]\ncert = "c.pem"', "x.toml"),
    'Cannot load config "x.toml": tls.cert and tls.key must be set together',
  );
  assertConfigError(
    () => parseConfigToml('[tls]\nkey = "k.pem"', "x.toml"),
    'Cannot load config "x.toml": tls.cert and tls.key must be set together',
  );
  assertConfigError(
    () => parseConfigToml("[limits]\nmax_connections = 10\nmax_connections_per_ip = 11", "x.toml"),
    'Cannot load config "x.toml": limits.max_connections_per_ip must not exceed limits.max_connections (10), got 11',
  );
});

Deno.test("parseConfigToml() reads [registration] and [contact], and names bad values", () => {
  const config = parseConfigToml(
    `[registration]\nallow = true\ntombstone_days = 0\nmin_seconds_between = 0\n\n[contact]\n` +
      `abuse = ["mailto:abuse@example.org", "xmpp:abuse@example.org"]\n` +
      `support = ["https://example.org/help"]\n`,
    "x.toml",
  );
  assert.deepEqual(config.registration, {
    enabled: true,
    allow: true,
    tombstoneDays: 0,
    minSecondsBetween: 0,
  });
  assert.deepEqual(config.contact, {
    enabled: true,
    abuse: ["mailto:abuse@example.org", "xmpp:abuse@example.org"],
    admin: [],
    feedback: [],
    sales: [],
    security: [],
    support: ["https://example.org/help"],
  });
  assertConfigError(
    () => parseConfigToml(`[registration]\nallow = "yes"\n`, "x.toml"),
    'Cannot load config "x.toml": registration.allow must be true or false, got "yes"',
  );
  assertConfigError(
    () => parseConfigToml(`[registration]\ntombstone_days = -1\n`, "x.toml"),
    'Cannot load config "x.toml": registration.tombstone_days must be an integer from 0 to 36500, got -1',
  );
  assertConfigError(
    () => parseConfigToml(`[registration]\nmin_seconds_between = 1.5\n`, "x.toml"),
    'Cannot load config "x.toml": registration.min_seconds_between must be an integer from 0 to 86400, got 1.5',
  );
  assertConfigError(
    () => parseConfigToml(`[registration]\nmin_seconds_between = -1\n`, "x.toml"),
    'Cannot load config "x.toml": registration.min_seconds_between must be an integer from 0 to 86400, got -1',
  );
  assertConfigError(
    () => parseConfigToml(`[registration]\nopen = true\n`, "x.toml"),
    'Cannot load config "x.toml": unknown key "registration.open"',
  );
  assertConfigError(
    () => parseConfigToml(`[contact]\nabuse = "mailto:a@example.org"\n`, "x.toml"),
    'Cannot load config "x.toml": contact.abuse must be an array of URIs such as ["mailto:abuse@example.org"], got "mailto:a@example.org"',
  );
  assertConfigError(
    () => parseConfigToml(`[contact]\nsales = ["sales@example.org"]\n`, "x.toml"),
    'Cannot load config "x.toml": contact.sales[0] must be a URI such as "mailto:abuse@example.org", got "sales@example.org"',
  );
  assertConfigError(
    () => parseConfigToml(`[contact]\nphone = []\n`, "x.toml"),
    'Cannot load config "x.toml": unknown key "contact.phone"',
  );
});

Deno.test("parseConfigToml() reads [offline] and [blocking], and names bad values", () => {
  const config = parseConfigToml(`[offline]\nmax_messages = 0\n[blocking]\nbounce = false\n`, "x");
  assert.deepEqual(config.offline, { enabled: true, maxMessages: 0 });
  assert.deepEqual(config.blocking, { enabled: true, bounce: false });
  assert.throws(
    () => parseConfigToml(`[offline]\nmax_messages = -1\n`, "x.toml"),
    {
      message:
        'Cannot load config "x.toml": offline.max_messages must be an integer from 0 to 1000000, got -1',
    },
  );
  assert.throws(
    () => parseConfigToml(`[blocking]\nbounce = "yes"\n`, "x.toml"),
    { message: 'Cannot load config "x.toml": blocking.bounce must be true or false, got "yes"' },
  );
  assert.throws(
    () => parseConfigToml(`[offline]\nlimit = 3\n`, "x.toml"),
    { message: 'Cannot load config "x.toml": unknown key "offline.limit"' },
  );
});

Deno.test("parseConfigToml() reads every module's enabled, and names bad values", () => {
  const config = parseConfigToml(`[vcard]\nenabled = false\n[muc]\nenabled = false\n`, "x.toml");
  assert.equal(config.vcard.enabled, false);
  assert.equal(config.muc.enabled, false);
  assert.equal(config.ping.enabled, true);
  assertConfigError(
    () => parseConfigToml(`[vcard]\nenabled = "no"\n`, "x.toml"),
    'Cannot load config "x.toml": vcard.enabled must be true or false, got "no"',
  );
  assertConfigError(
    () => parseConfigToml(`[vcard]\nmax_bytes = 10\n`, "x.toml"),
    'Cannot load config "x.toml": vcard.max_bytes must be an integer from 1024 to 16777216, got 10',
  );
  assertConfigError(
    () => parseConfigToml(`[gateway]\nenabled = true\n`, "x.toml"),
    'Cannot load config "x.toml": unknown key "gateway"',
  );
  assertConfigError(
    () => parseConfigToml(`vcard = true\n`, "x.toml"),
    'Cannot load config "x.toml": vcard must be a table ([vcard]), got true',
  );
});
