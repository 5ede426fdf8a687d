// The spec oracle: replays every script in spec/ against Prosody 0.12 (Debian's package), the
// server most clients and test suites were written against, one fresh Prosody per script, and
// sorts the results: passed, a documented divergence (the script says why Verona differs, on a
// `# Differs from Prosody:` header line, or in NAME.differs beside a script that must stay
// byte-identical to its upstream), or failed. Exit status 1 if any script failed.
//
//   deno task spec:oracle                       # every script in spec/
//   deno task spec:oracle spec/im/blocking.scs  # some scripts
//   deno task spec:oracle --verbose ...         # with each failure's report
import { parseArgs } from "node:util";
import { isAbsolute, join, relative } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { connect } from "node:net";
import { parseJid } from "../../lib/jid/jid.ts";
import { ensureCertificate } from "../../lib/net/certificate.ts";
import { parseScript } from "../../lib/replay/parse.ts";
import { formatFailure, runScript } from "../../lib/replay/run.ts";

const ROOT = fromFileUrl(new URL("../../", import.meta.url));
const DIVERGENCE = /^#\s*Differs from Prosody:\s*(.+)$/m;
/** Prosody's own server admin, as in our test configurations that name one. */
const ADMIN: [string, string] = ["admin@localhost", "password"];

const USAGE = `Usage: deno task spec:oracle [--port N] [--verbose] [FILE.scs...]

Replays spec scripts (default: every one under spec/) against Debian's Prosody 0.12,
installed with apt-get when missing, on 127.0.0.1:--port (default 25990). Each script
gets a fresh Prosody with its [Client] accounts and admin@localhost, in memory storage,
MUC (with archives) at conference.localhost. A script that fails there must carry a
"# Differs from Prosody: <why>" header line.`;

interface Outcome {
  path: string;
  kind: "passed" | "divergence" | "failed" | "stale divergence";
  detail: string;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      port: { type: "string", default: "25990" },
      verbose: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const port = Number(values.port);
  await ensureProsody();
  const files = positionals.length > 0 ? positionals : scriptsIn(join(ROOT, "spec"));
  const work = await Deno.makeTempDir({ prefix: "verona-oracle-" });
  try {
    const cert = await ensureCertificate({ dataDir: work, domain: "localhost" });
    const outcomes: Outcome[] = [];
    for (const file of files) {
      const outcome = await replayOnProsody(file, { work, port, cert });
      outcomes.push(outcome);
      const name = relative(ROOT, outcome.path);
      console.log(`${outcome.kind.padEnd(16)} ${name}`);
      if (values.verbose && outcome.kind !== "passed") console.log(indent(outcome.detail));
    }
    const count = (kind: Outcome["kind"]) => outcomes.filter((o) => o.kind === kind).length;
    const divergences = outcomes.filter((o) => o.kind === "divergence");
    if (divergences.length > 0) {
      console.log("\nDocumented divergences:");
      for (const o of divergences) console.log(`- ${relative(ROOT, o.path)}: ${o.detail}`);
    }
    const stale = outcomes.filter((o) => o.kind === "stale divergence");
    if (stale.length > 0) {
      console.log("\nPassed on Prosody this time although they say they differ (timing?):");
      for (const o of stale) console.log(`- ${relative(ROOT, o.path)}`);
    }
    const failed = outcomes.filter((o) => o.kind === "failed");
    if (failed.length > 0) {
      console.log("\nTo fix (fails on Prosody without a documented reason):");
      for (const o of failed) console.log(`- ${relative(ROOT, o.path)}`);
    }
    console.log(
      `\nspec oracle: ${count("passed") + stale.length} passed on Prosody, ${divergences.length} ` +
        `documented divergences, ${failed.length} failed (${outcomes.length} scripts)`,
    );
    return failed.length === 0 ? 0 : 1;
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

async function replayOnProsody(
  file: string,
  env: { work: string; port: number; cert: { certPath: string; keyPath: string } },
): Promise<Outcome> {
  const path = isAbsolute(file) ? file : join(Deno.cwd(), file);
  const text = await Deno.readTextFile(path);
  // A script kept byte-identical to its upstream (the seeds) says it in NAME.differs beside it.
  const sidecar = await Deno.readTextFile(path.replace(/\.scs$/, ".differs")).catch(() => "");
  const reason = divergenceReason(text) ?? divergenceReason(sidecar);
  const script = parseScript(text, path);
  const dir = await Deno.makeTempDir({ dir: env.work, prefix: "run-" });
  const config = join(dir, "prosody.cfg.lua");
  await Deno.writeTextFile(config, prosodyConfig(dir, env.port, env.cert));
  const accounts = new Map<string, string>([ADMIN]);
  for (const client of script.clients.values()) {
    accounts.set(parseJid(client.jid).bare, client.password);
  }
  for (const [jid, password] of accounts) {
    const [user, host] = jid.split("@");
    await run("prosodyctl", ["--config", config, "register", user, host, password]);
  }
  const prosody = new Deno.Command("prosody", {
    args: ["-F", "--config", config],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitForPort(env.port, 10_000);
    const result = await runScript(script, { host: "127.0.0.1", port: env.port });
    if (result.ok) {
      return reason === undefined
        ? { path, kind: "passed", detail: "" }
        : { path, kind: "stale divergence", detail: reason };
    }
    const report = formatFailure(result, relative(ROOT, path));
    return reason === undefined
      ? { path, kind: "failed", detail: report }
      : { path, kind: "divergence", detail: reason };
  } finally {
    prosody.kill("SIGTERM");
    const exited = await Promise.race([
      prosody.status.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 5000)),
    ]);
    if (!exited) {
      prosody.kill("SIGKILL");
      await prosody.status;
    }
    await waitForPortFree(env.port, 5000);
  }
}

/** A full-featured Prosody as an admin would set it up, with memory storage for all but accounts. */
function prosodyConfig(
  dir: string,
  port: number,
  cert: { certPath: string; keyPath: string },
): string {
  return `admins = { "${ADMIN[0]}" }
run_as_root = true
data_path = "${dir}"
pidfile = "${dir}/prosody.pid"
log = { error = "${dir}/prosody.log" }
c2s_ports = { ${port} }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
component_ports = { }
modules_disabled = { "s2s" }
modules_enabled = {
  "roster"; "saslauth"; "tls"; "disco"; "carbons"; "pep"; "private"; "blocklist"; "bookmarks";
  "vcard4"; "vcard_legacy"; "version"; "uptime"; "time"; "ping"; "register"; "mam"; "offline";
  "smacks"; "csi_simple"; "server_contact_info"; "lastactivity"; "tombstones";
  "user_account_management";
}
contact_info = { abuse = { "mailto:abuse@localhost" }; admin = { "xmpp:admin@localhost" } }
c2s_require_encryption = true
allow_unencrypted_plain_auth = false
authentication = "internal_hashed"
storage = { accounts = "internal"; account_details = "internal" }
default_storage = "memory"
ssl = { key = "${cert.keyPath}"; certificate = "${cert.certPath}" }
allow_registration = false
bounce_blocked_messages = true
VirtualHost "localhost"
Component "conference.localhost" "muc"
  storage = "memory"
  modules_enabled = { "muc_mam" }
`;
}

async function ensureProsody(): Promise<void> {
  if (onPath("prosody") && onPath("prosodyctl")) return;
  console.error("installing Debian's prosody package (apt-get)...");
  await run("apt-get", ["update", "-qq"]);
  await run("apt-get", ["install", "-y", "-qq", "prosody"], {
    DEBIAN_FRONTEND: "noninteractive",
  });
}

async function run(command: string, args: string[], env?: Record<string, string>): Promise<void> {
  const { success, stderr } = await new Deno.Command(command, {
    args,
    env,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(`${command} ${args.join(" ")} failed: ${new TextDecoder().decode(stderr)}`);
  }
}

function onPath(name: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((dir) => {
    try {
      return dir !== "" && Deno.statSync(join(dir, name)).isFile;
    } catch {
      return false;
    }
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!await canConnect(port)) {
    if (Date.now() > deadline) throw new Error(`Prosody did not listen on ${port} in ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function waitForPortFree(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (await canConnect(port) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The reason on a `# Differs from Prosody:` line, with the comment lines that continue it up to
 * the end of its sentence; undefined if there is none.
 */
function divergenceReason(text: string): string | undefined {
  const lines = text.split("\n");
  const start = lines.findIndex((line) => DIVERGENCE.test(line));
  if (start === -1) return undefined;
  const parts = [lines[start].match(DIVERGENCE)![1].trim()];
  for (let i = start + 1; i < lines.length && !/[.]\s*$/.test(parts.at(-1)!); i++) {
    const more = lines[i].match(/^#\s*(\S.*)$/);
    if (!more) break;
    parts.push(more[1].trim());
  }
  return parts.join(" ");
}

function scriptsIn(dir: string): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) found.push(...scriptsIn(path));
    else if (entry.name.endsWith(".scs")) found.push(path);
  }
  return found.sort();
}

function indent(text: string): string {
  return text.split("\n").map((line) => `    ${line}`).join("\n");
}

if (import.meta.main) Deno.exit(await main());
