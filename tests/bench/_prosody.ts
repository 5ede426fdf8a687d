// Prosody (Debian's package) for the comparison benchmark: a configuration of its own in a
// temporary directory, 127.0.0.1 only, STARTTLS required, SCRAM-SHA-1 against stored keys
// (internal_hashed), MUC at conference.<domain>, no s2s, everything but accounts in memory.
// Prosody has no connection or rate limits unless mod_limits is loaded, and it is not.
import { join } from "node:path";
import { type ForeignServer, freePort, spawnForeign } from "./_foreign_server.ts";

/** Where and how to run Prosody. */
export interface ProsodyOptions {
  /** An empty directory for configuration, data and log. */
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

/** A running Prosody, with the client port and a description of how it was set up. */
export interface RunningProsody {
  server: ForeignServer;
  port: number;
  configPath: string;
  setup: string;
}

const SCRAM_ITERATIONS = 4096;

/** A string as a Lua string literal. */
function lua(text: string): string {
  return JSON.stringify(text); // JSON escapes are valid Lua escapes for these paths and names
}

async function hmac(key: Uint8Array<ArrayBuffer>, data: Uint8Array<ArrayBuffer>) {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-1" }, false, [
    "sign",
  ]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
}

/**
 * The account file Prosody's internal_hashed provider keeps (SCRAM-SHA-1 StoredKey and ServerKey,
 * RFC 5802 §3), written directly: prosodyctl register takes 40 ms a call. One salt serves every
 * account, since they all have the same password and only the server's cost is measured.
 */
async function accountFile(password: string): Promise<string> {
  const enc = new TextEncoder();
  const salt = crypto.randomUUID();
  const key = await crypto.subtle.importKey("raw", enc.encode(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  const salted = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "PBKDF2", hash: "SHA-1", salt: enc.encode(salt), iterations: SCRAM_ITERATIONS },
      key,
      160,
    ),
  );
  const clientKey = await hmac(salted, enc.encode("Client Key"));
  const storedKey = new Uint8Array(await crypto.subtle.digest("SHA-1", clientKey));
  const serverKey = await hmac(salted, enc.encode("Server Key"));
  return `return {\n\t["server_key"] = ${lua(serverKey.toHex())};\n` +
    `\t["salt"] = ${lua(salt)};\n\t["iteration_count"] = ${SCRAM_ITERATIONS};\n` +
    `\t["stored_key"] = ${lua(storedKey.toHex())};\n};\n`;
}

/**
 * Writes the configuration (and the accounts, unless they exist), starts `prosody -F` and waits
 * for its port.
 */
export async function startProsody(options: ProsodyOptions): Promise<RunningProsody> {
  const { dir, domain } = options;
  const port = freePort();
  const dataDir = join(dir, "data");
  // Prosody escapes host and user names in paths; "localhost" and "bench12" need no escaping.
  const accountsDir = join(dataDir, domain, "accounts");
  await Deno.mkdir(accountsDir, { recursive: true });
  const { prefix, count, create } = options.accounts;
  if (create) {
    const file = await accountFile(options.accounts.password);
    await Promise.all(
      Array.from(
        { length: count },
        (_, i) => Deno.writeTextFile(join(accountsDir, `${prefix}${i + 1}.dat`), file),
      ),
    );
  }
  const configPath = join(dir, "prosody.cfg.lua");
  await Deno.writeTextFile(
    configPath,
    `-- written by tests/bench/compare.ts
run_as_root = true
daemonize = false
data_path = ${lua(dataDir)}
pidfile = ${lua(join(dir, "prosody.pid"))}
log = { error = ${lua(join(dir, "prosody.log"))} }
c2s_ports = { ${port} }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
component_ports = { }
network_settings = { tcp_backlog = 1024 }
modules_disabled = { "s2s" }
modules_enabled = {
  "roster"; "saslauth"; "tls"; "disco"; "ping"; "carbons"; "blocklist"; "private"; "vcard";
  "version"; "time"; "lastactivity"; "offline"; "pep";
}
c2s_require_encryption = true
allow_unencrypted_plain_auth = false
authentication = "internal_hashed"
storage = { accounts = "internal" }
default_storage = "memory"
certificates = ${lua(dir)}
ssl = { key = ${lua(options.keyPath)}; certificate = ${lua(options.certPath)} }
allow_registration = false
VirtualHost ${lua(domain)}
Component ${lua(`conference.${domain}`)} "muc"
  storage = "memory"
  restrict_room_creation = false
`,
  );
  const server = await spawnForeign({
    command: ["prosody", "-F", "--config", configPath],
    cwd: dir,
    pinCpus: options.pinCpus,
    ports: [port],
    startTimeoutMs: options.startTimeoutMs,
  });
  return {
    server,
    port,
    configPath,
    setup: `prosody -F, ${count} accounts (internal_hashed files, SCRAM-SHA-1 keys), ` +
      "everything else (PEP too: mod_pep on) in memory storage, no mod_limits, tcp_backlog 1024",
  };
}
