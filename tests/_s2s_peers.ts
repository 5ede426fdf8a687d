// Prosody and ejabberd as federation peers for s2s tests (RFC 6120 §13.7.2, XEP-0220 dialback,
// XEP-0178 SASL EXTERNAL): each in a temporary directory with its own configuration, listening
// on 127.0.0.1 only (c2s and s2s on free ports), finding other domains through the test DNS of
// tests/_dns.ts, presenting a certificate from tests/_ca.ts, and trusting that CA only when asked
// (otherwise certificates do not verify and the peer must fall back to dialback). The caller
// publishes the peer in the test DNS: `dns.set(peer.domain, { port: peer.s2sPort })`.
//
// Process handling (start, readiness by port, SIGTERM then SIGKILL) is tests/bench/_foreign_server.ts.
import { join } from "node:path";
import { freePort, run, spawnForeign } from "./bench/_foreign_server.ts";

/** How to run a peer. */
export interface PeerOptions {
  /** An empty directory for configuration, data and logs. */
  dir: string;
  domain: string;
  /** Port of the test DNS on 127.0.0.1 (UDP and TCP). */
  dnsPort: number;
  certPath: string;
  keyPath: string;
  /** A CA the peer trusts for s2s certificates; absent: only the system's store (dialback). */
  caPath?: string;
  users: { name: string; password: string }[];
  /** A MUC service at conference.<domain>. */
  muc: boolean;
  startTimeoutMs: number;
}

/** A running peer. */
export interface Peer {
  domain: string;
  c2sPort: number;
  s2sPort: number;
  /** Stops the process (SIGTERM, then SIGKILL); safe to call twice. */
  stop(): Promise<void>;
  /** The server's log file, for failure messages and for seeing which s2s auth was used. */
  log(): Promise<string>;
}

const STOP_GRACE_MS = 3000;

/** A string as a Lua string literal: JSON escapes are valid Lua escapes. */
const lua = (text: string) => JSON.stringify(text);
/** A string as a YAML scalar: a JSON string is a YAML string. */
const yaml = (text: string) => JSON.stringify(text);

async function readLog(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    return `(no log at ${path}: ${error instanceof Error ? error.message : error})`;
  }
}

/** Prosody 0.12 (Debian): DNS through libunbound (lua-unbound) forwarding to the test DNS. */
export async function startProsodyPeer(options: PeerOptions): Promise<Peer> {
  const { dir, domain } = options;
  const c2sPort = freePort();
  const s2sPort = freePort();
  const dataDir = join(dir, "data");
  const logPath = join(dir, "prosody.log");
  await Deno.mkdir(dataDir, { recursive: true });
  const ssl = [
    `key = ${lua(options.keyPath)}`,
    `certificate = ${lua(options.certPath)}`,
    // Without a cafile Prosody checks against the system store, which lacks the test CA.
    ...(options.caPath ? [`cafile = ${lua(options.caPath)}`] : []),
  ];
  const configPath = join(dir, "prosody.cfg.lua");
  await Deno.writeTextFile(
    configPath,
    `-- written by tests/_s2s_peers.ts
run_as_root = true
daemonize = false
data_path = ${lua(dataDir)}
pidfile = ${lua(join(dir, "prosody.pid"))}
log = { debug = ${lua(logPath)} }
interfaces = { "127.0.0.1" }
c2s_ports = { ${c2sPort} }
c2s_direct_tls_ports = { }
s2s_ports = { ${s2sPort} }
s2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
component_ports = { }
-- libunbound: no /etc/resolv.conf, no /etc/hosts, only the test DNS (ip@port). No trust anchor
-- is set, so nothing is DNSSEC-validated and the unsigned answers are taken as they are.
unbound = { resolvconf = false; hoststxt = false; forward = { ${
      lua(`127.0.0.1@${options.dnsPort}`)
    } } }
use_dane = false
use_ipv6 = false
modules_enabled = {
  "roster"; "saslauth"; "tls"; "dialback"; "s2s_bidi"; "disco"; "ping";
}
c2s_require_encryption = true
allow_unencrypted_plain_auth = false
s2s_require_encryption = true
-- Certificates may fail to verify (an untrusted CA): then dialback authenticates.
s2s_secure_auth = false
authentication = "internal_hashed"
storage = "internal"
certificates = ${lua(dir)}
ssl = { ${ssl.join("; ")} }
allow_registration = false
VirtualHost ${lua(domain)}
${
      options.muc
        ? `Component ${lua(`conference.${domain}`)} "muc"\n  restrict_room_creation = false\n`
        : ""
    }`,
  );
  for (const user of options.users) {
    await run(["prosodyctl", "--config", configPath, "register", user.name, domain, user.password]);
  }
  const server = await spawnForeign({
    command: ["prosody", "-F", "--config", configPath],
    cwd: dir,
    ports: [c2sPort, s2sPort],
    startTimeoutMs: options.startTimeoutMs,
  });
  return {
    domain,
    c2sPort,
    s2sPort,
    stop: async () => void await server.stop(STOP_GRACE_MS),
    log: () => readLog(logPath),
  };
}

/** Where Debian's ejabberd keeps its Erlang applications (ejabberdctl sets ERL_LIBS so). */
async function erlLibs(): Promise<string> {
  const script = await Deno.readTextFile("/usr/sbin/ejabberdctl").catch(() => "");
  return script.match(/^ERL_LIBS='([^']+)'/m)?.[1] ?? "/usr/lib/x86_64-linux-gnu";
}

/**
 * ejabberd 23 (Debian), started with erl directly as tests/bench/_ejabberd.ts does (no
 * distribution, no epmd). Erlang's resolver reads the inetrc file named by ERL_INETRC: only the
 * test DNS, no /etc/resolv.conf or /etc/hosts.
 */
export async function startEjabberdPeer(options: PeerOptions): Promise<Peer> {
  const { dir, domain } = options;
  const c2sPort = freePort();
  const s2sPort = freePort();
  const apiPort = freePort();
  const mnesiaDir = join(dir, "mnesia");
  const logDir = join(dir, "logs");
  const logPath = join(logDir, "ejabberd.log");
  await Deno.mkdir(mnesiaDir, { recursive: true });
  await Deno.mkdir(logDir, { recursive: true });

  const inetrcPath = join(dir, "inetrc");
  await Deno.writeTextFile(
    inetrcPath,
    `{resolv_conf, ""}.
{hosts_file, ""}.
{host, {127,0,0,1}, ["localhost"]}.
{nameserver, {127,0,0,1}, ${options.dnsPort}}.
{lookup, [file, dns]}.
{timeout, 1000}.
{retry, 1}.
`,
  );

  const configPath = join(dir, "ejabberd.yml");
  await Deno.writeTextFile(
    configPath,
    `# written by tests/_s2s_peers.ts
loglevel: info
hosts: [${yaml(domain)}]
certfiles: [${yaml(options.certPath)}, ${yaml(options.keyPath)}]
${options.caPath ? `s2s_cafile: ${yaml(options.caPath)}\n` : ""}listen:
  - port: ${c2sPort}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: true
  - port: ${s2sPort}
    ip: "127.0.0.1"
    module: ejabberd_s2s_in
  - port: ${apiPort}
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /api: mod_http_api
auth_method: internal
auth_password_format: scram
auth_scram_hash: sha
disable_sasl_mechanisms: ["digest-md5", "x-oauth2"]
s2s_use_starttls: required
s2s_access: s2s
s2s_dns_timeout: 2
s2s_dns_retries: 1
outgoing_s2s_families: [ipv4]
outgoing_s2s_timeout: 10
acl:
  loopback:
    ip: ["127.0.0.0/8"]
access_rules:
  local:
    allow: all
  c2s:
    allow: all
  s2s:
    allow: all
  muc_create:
    allow: all
api_permissions:
  "test setup":
    who:
      ip: "127.0.0.1/8"
    what: ["register"]
modules:
  mod_disco: {}
  mod_ping: {}
  mod_roster: {}
  mod_s2s_dialback: {}
${options.muc ? "  mod_muc:\n    access_create: muc_create\n" : ""}`,
  );

  const server = await spawnForeign({
    command: ["erl", "-noinput", "-mnesia", "dir", yaml(mnesiaDir), "-s", "ejabberd"],
    cwd: dir,
    env: {
      HOME: dir,
      ERL_LIBS: await erlLibs(),
      ERL_INETRC: inetrcPath,
      EJABBERD_CONFIG_PATH: configPath,
      EJABBERD_LOG_PATH: logPath,
      ERL_CRASH_DUMP: join(logDir, "erl_crash.dump"),
      ERL_CRASH_DUMP_BYTES: "0",
    },
    ports: [c2sPort, s2sPort, apiPort],
    startTimeoutMs: options.startTimeoutMs,
  });
  try {
    for (const user of options.users) {
      const response = await fetch(`http://127.0.0.1:${apiPort}/api/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user: user.name, host: domain, password: user.password }),
      });
      const text = await response.text();
      if (!response.ok) {
        throw new Error(`Cannot register ${user.name} on ejabberd: ${response.status} ${text}`);
      }
    }
  } catch (error) {
    await server.stop(STOP_GRACE_MS);
    throw error;
  }
  return {
    domain,
    c2sPort,
    s2sPort,
    stop: async () => void await server.stop(STOP_GRACE_MS),
    log: () => readLog(logPath),
  };
}
