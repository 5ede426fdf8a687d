// ejabberd (Debian's package, 23.x) for the comparison benchmark: its own configuration and
// Mnesia directory in a temporary directory, 127.0.0.1 only, STARTTLS required, SCRAM-SHA-1
// against stored keys, MUC at conference.<domain>, no s2s. Limits are raised so that the load
// generator is not throttled: no c2s shaper, max_fsm_queue and room sizes far above the load,
// a listen backlog of 1024 (the default is 5).
//
// The node is started with erl directly, not ejabberdctl (which runs it as the ejabberd user
// and needs epmd and a cookie): without a node name Erlang distribution stays off, so there is
// no epmd to clean up and no cookie to clash with another node. Accounts are created over
// ejabberd's HTTP API on a loopback port (ejabberdctl register starts an Erlang VM per call).
import { join } from "node:path";
import { type ForeignServer, freePort, spawnForeign } from "./_foreign_server.ts";

/** Where and how to run ejabberd. */
export interface EjabberdOptions {
  /** An empty directory for configuration, Mnesia and logs. */
  dir: string;
  domain: string;
  certPath: string;
  keyPath: string;
  /**
   * Accounts `<prefix>1..<prefix><count>`, all with `password`; `create: false` when they exist
   * from an earlier start in the same `dir`.
   */
  accounts: { prefix: string; count: number; password: string; create: boolean };
  pinCpus?: string;
  startTimeoutMs: number;
}

/** A running ejabberd, with the client port and a description of how it was set up. */
export interface RunningEjabberd {
  server: ForeignServer;
  port: number;
  configPath: string;
  setup: string;
}

const REGISTER_CONCURRENCY = 8;

/** Where Debian's ejabberd keeps its Erlang applications (ejabberdctl sets ERL_LIBS so). */
async function erlLibs(): Promise<string> {
  const script = await Deno.readTextFile("/usr/sbin/ejabberdctl").catch(() => "");
  return script.match(/^ERL_LIBS='([^']+)'/m)?.[1] ?? "/usr/lib/x86_64-linux-gnu";
}

/** Creates the accounts through mod_http_api's register command. */
async function register(
  apiPort: number,
  domain: string,
  accounts: EjabberdOptions["accounts"],
): Promise<void> {
  let next = 1;
  const worker = async () => {
    while (next <= accounts.count) {
      const user = `${accounts.prefix}${next++}`;
      const response = await fetch(`http://127.0.0.1:${apiPort}/api/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user, host: domain, password: accounts.password }),
      });
      const text = await response.text();
      if (!response.ok) {
        throw new Error(`Cannot register ${user} on ejabberd: ${response.status} ${text}`);
      }
    }
  };
  await Promise.all(Array.from({ length: REGISTER_CONCURRENCY }, worker));
}

/**
 * Writes ejabberd.yml, starts the node in the foreground and creates the accounts (unless they
 * exist: Mnesia keeps them on disc in `dir` across starts).
 */
export async function startEjabberd(options: EjabberdOptions): Promise<RunningEjabberd> {
  const { dir, domain } = options;
  const port = freePort();
  const apiPort = freePort();
  const mnesiaDir = join(dir, "mnesia");
  const logDir = join(dir, "logs");
  await Deno.mkdir(mnesiaDir, { recursive: true });
  await Deno.mkdir(logDir, { recursive: true });
  const configPath = join(dir, "ejabberd.yml");
  const q = (text: string) => JSON.stringify(text); // a JSON string is a YAML string
  await Deno.writeTextFile(
    configPath,
    `# written by tests/bench/compare.ts
loglevel: warning
hosts: [${q(domain)}]
certfiles: [${q(options.certPath)}, ${q(options.keyPath)}]
listen:
  - port: ${port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: true
    max_stanza_size: 262144
    shaper: none
    max_fsm_queue: 1000000
    backlog: 1024
  - port: ${apiPort}
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /api: mod_http_api
auth_method: internal
auth_password_format: scram
auth_scram_hash: sha
disable_sasl_mechanisms: ["digest-md5", "x-oauth2"]
s2s_access: none
max_fsm_queue: 1000000
acl:
  loopback:
    ip: ["127.0.0.0/8"]
access_rules:
  local:
    allow: all
  c2s:
    allow: all
  muc_create:
    allow: all
api_permissions:
  "bench setup":
    who:
      ip: "127.0.0.1/8"
    what: ["register"]
shaper_rules:
  max_user_sessions: 1000
  max_user_offline_messages: 100
  c2s_shaper: none
modules:
  mod_blocking: {}
  mod_caps: {}
  mod_carboncopy: {}
  mod_disco: {}
  mod_last: {}
  mod_muc:
    access_create: muc_create
    max_users: 100000
    max_user_conferences: 100000
    max_users_presence: 100000
    default_room_options:
      max_users: 100000
  mod_offline: {}
  mod_ping: {}
  mod_privacy: {}
  mod_private: {}
  mod_pubsub:
    plugins: ["flat", "pep"]
  mod_roster: {}
  mod_time: {}
  mod_vcard: {}
  mod_version: {}
`,
  );
  const server = await spawnForeign({
    command: [
      "erl",
      "-noinput",
      "+P",
      "1000000",
      "-mnesia",
      "dir",
      q(mnesiaDir),
      "-s",
      "ejabberd",
    ],
    cwd: dir,
    env: {
      HOME: dir,
      ERL_LIBS: await erlLibs(),
      EJABBERD_CONFIG_PATH: configPath,
      EJABBERD_LOG_PATH: join(logDir, "ejabberd.log"),
      ERL_CRASH_DUMP: join(logDir, "erl_crash.dump"),
      ERL_CRASH_DUMP_BYTES: "0",
    },
    pinCpus: options.pinCpus,
    ports: [port, apiPort],
    startTimeoutMs: options.startTimeoutMs,
  });
  try {
    if (options.accounts.create) await register(apiPort, domain, options.accounts);
  } catch (error) {
    await server.stop(5000);
    throw error;
  }
  return {
    server,
    port,
    configPath,
    setup: `erl -s ejabberd (no distribution), Mnesia in the temp dir, ${options.accounts.count} ` +
      "accounts (SCRAM-SHA-1 keys, via mod_http_api), c2s shaper none, max_fsm_queue 1000000, " +
      "MUC max_users 100000, mod_pubsub with PEP and mod_caps, listen backlog 1024",
  };
}
