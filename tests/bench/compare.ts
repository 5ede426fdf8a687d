// Comparison benchmark: the same load against Verona, ejabberd and Prosody, one after another in
// one run, on one machine, with one certificate, and one table of figures side by side.
//
//   deno task bench:compare                       # 500 clients, 100 chat pairs, a room of 50
//   deno task bench:compare --cert rsa --json     # RSA-2048 instead of ECDSA P-256; JSON only
//   deno task bench:compare --servers verona,prosody --idle-sessions 2000
//   deno task bench:compare --servers floor,verona,ejabberd --idle-sessions 0   # logins
//
// Each server runs in the foreground with a configuration of its own in a temporary directory,
// on 127.0.0.1 only: STARTTLS required, SCRAM-SHA-1, MUC at conference.localhost, no s2s,
// accounts bench1..benchN with one password, limits raised so that the generator is not
// throttled (see _prosody.ts and _ejabberd.ts). "floor" is tests/bench/login_floor.ts: the same
// logins over Deno's node:net + node:tls with the project's SCRAM and no XMPP work at all, so
// its column is what any server in Deno pays per login and per idle session (logins and idle
// memory only). Each is pinned to CPU 0 and the generator to
// CPU 1. Per server, each on a fresh process of it (same data directory):
//   1. load: tests/bench/load.ts --host --port --server-pid --json against it (logins, 1:1 chat
//      to full JIDs, PEP tune events from one account to its --clients - 1 contacts, at most
//      500, joins of one room of --clients, groupchat fan-out in a room of --occupants), which
//      reads the server's CPU time from /proc. Every phase runs as fast as
//      the server goes (windows of messages in flight), so CPU per delivery is at saturation.
//   2. idle memory: two batches of --idle-sessions logged-in sessions are opened and held; the
//      server's RSS after each, once its CPU is quiet ("at once") and again after --idle-settle
//      seconds of idle sessions ("settled"), gives the memory per session, the second batch
//      without one-time costs. No garbage collection can be forced in the others, so none is in
//      Verona either: RSS as the system sees it, and the wait lets each runtime give back what
//      the burst of logins left (V8's memory reducer starts 30 s after the process, then runs
//      ~8 s after a burst; deno task bench:memory has Verona's figures after a forced GC).
// With --rounds N all of it is repeated N times, the servers interleaved, and the table shows
// medians. Debian's prosody and ejabberd packages are installed if missing. Every server is
// stopped at the end, also on failure or Ctrl-C.
import { SCRIPT_PERMISSIONS } from "./_child.ts";
import { optionsOrExit, UsageError } from "./_cli.ts";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureCertificate } from "../../lib/net/certificate.ts";
import { createAccounts } from "./_accounts.ts";
import { BenchClient } from "./_bench_client.ts";
import { startEjabberd } from "./_ejabberd.ts";
import { debianVersion, ensureDebianPackages } from "./_foreign_server.ts";
import { clockTicks, cpuQuiet, onPath, pinProcess, rssKiB } from "./_proc.ts";
import { startProsody } from "./_prosody.ts";
import { spawnServer } from "./_server.ts";

const USAGE = `Usage: deno task bench:compare [options]

Runs the same load (tests/bench/load.ts) and an idle-memory measurement against Verona,
ejabberd and Prosody, one after another, each on CPU 0 with the generator on CPU 1, and
prints one table with Verona's ratio to each. Installs Debian's prosody and ejabberd
packages if missing (needs root).

Options:
  --servers LIST       which, in this order (default: verona,ejabberd,prosody,floor);
                       floor is the login floor in Deno (tests/bench/login_floor.ts:
                       TLS, sockets and SCRAM, no XMPP work), logins and idle memory only
  --clients N          clients in the load (default: 500)
  --chat-pairs N       1:1 chat pairs (default: 100)
  --occupants N        room size of the groupchat fan-out (default: 50)
  --warmup-logins N    logins made and closed before the timed part (load.ts
                       --warmup-logins), so that every server is measured warm, as in
                       service; their CPU per login is the "cold" row (default: --clients;
                       0: none, the timed logins are the first ones)
  --messages N         groupchat messages sent to it (default: load.ts's, 100000
                       deliveries in all); more make short phases (fast servers) more precise:
                       CPU time is read in clock ticks of 10 ms
  --resume-tls         the timed logins resume the TLS session of the warm-up login of the
                       same account (load.ts --resume-tls), as returning clients do; a row
                       counts how many each server resumed
  --logins-only        measure logins (and idle memory) only, as for the floor: no chat,
                       PEP or MUC phases; a quick run while working on logins
  --idle-sessions N    sessions per batch of the idle-memory measurement, two batches
                       (default: 1000; 0 to skip it)
  --idle-settle S      seconds the sessions of each batch stay idle before the settled
                       reading of RSS (default: 40; 0: only the reading at once)
  --cert KIND          ecdsa (P-256, Verona's own generator; default) or rsa (RSA-2048,
                       openssl), one certificate for all servers
  --rounds N           run everything N times, servers interleaved, and report the
                       median of each figure (default: 1; each round takes a few minutes)
  --password PW        password of every account (default: bench-password)
  --json               print only one JSON line with every figure
  -h, --help           show this help`;

const SERVERS = ["verona", "ejabberd", "prosody", "floor"] as const;
type ServerName = typeof SERVERS[number];
const DISPLAY: Record<ServerName, string> = {
  verona: "Verona",
  ejabberd: "ejabberd",
  prosody: "Prosody",
  floor: "Deno floor",
};
const DOMAIN = "localhost";
const SERVER_CPUS = "0";
const GENERATOR_CPUS = "1";
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
/** load.ts aborts a phase after its own --timeout; this ends the whole run of it regardless. */
const LOAD_KILL_MS = 360_000;
const LOGIN_TIMEOUT_MS = 30_000;
const LOGIN_CONCURRENCY = 16;
/** Above this share of one core the generator may be what limits the figures (as load.ts). */
const SATURATED = 0.9;
const LOAD_SCRIPT = fileURLToPath(new URL("./load.ts", import.meta.url));
const FLOOR_SCRIPT = fileURLToPath(new URL("./login_floor.ts", import.meta.url));

interface Options {
  servers: ServerName[];
  clients: number;
  chatPairs: number;
  occupants: number;
  warmupLogins: number;
  messages?: number;
  idleSessions: number;
  /** Seconds each batch of idle sessions stays idle before the settled RSS reading. */
  idleSettleS: number;
  /** Timed logins resume the TLS sessions of the warm-up logins. */
  resumeTls: boolean;
  /** Only logins (and idle memory) for every server, as for the floor. */
  loginsOnly: boolean;
  cert: "ecdsa" | "rsa";
  rounds: number;
  password: string;
  json: boolean;
}

function count(
  name: string,
  text: string | undefined,
  fallback: number,
  { min = 1, max = 5000 } = {},
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

function parseOptions(args: string[]): Options | "help" {
  const { values, positionals } = parseArgs({
    args,
    options: {
      servers: { type: "string" },
      clients: { type: "string" },
      "chat-pairs": { type: "string" },
      occupants: { type: "string" },
      "warmup-logins": { type: "string" },
      messages: { type: "string" },
      "idle-sessions": { type: "string" },
      "idle-settle": { type: "string" },
      "logins-only": { type: "boolean" },
      "resume-tls": { type: "boolean" },
      cert: { type: "string" },
      rounds: { type: "string" },
      password: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return "help";
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const servers = (values.servers ?? SERVERS.join(",")).split(",").map((s) => s.trim());
  for (const name of servers) {
    if (!(SERVERS as readonly string[]).includes(name)) {
      throw new UsageError(`--servers takes ${SERVERS.join(", ")}; got "${name}"`);
    }
  }
  const clients = count("clients", values.clients, 500, { min: 2 });
  const chatPairs = count("chat-pairs", values["chat-pairs"], Math.min(100, clients / 2 | 0));
  if (chatPairs * 2 > clients) throw new UsageError("--chat-pairs may not exceed half --clients");
  const occupants = count("occupants", values.occupants, Math.min(50, clients));
  if (occupants > clients) throw new UsageError("--occupants may not exceed --clients");
  const cert = values.cert ?? "ecdsa";
  if (cert !== "ecdsa" && cert !== "rsa") {
    throw new UsageError(`--cert takes ecdsa or rsa, got "${cert}"`);
  }
  const password = values.password ?? "bench-password";
  if (password === "" || /["'\\\s]/.test(password)) {
    throw new UsageError("--password must be non-empty, without quotes, backslashes or spaces");
  }
  if (values["resume-tls"] && values["warmup-logins"]?.trim() === "0") {
    throw new UsageError("--resume-tls needs warm-up logins (their TLS sessions are resumed)");
  }
  return {
    servers: [...new Set(servers)] as ServerName[],
    clients,
    chatPairs,
    occupants,
    warmupLogins: count("warmup-logins", values["warmup-logins"], clients, {
      min: 0,
      max: clients,
    }),
    messages: values.messages === undefined
      ? undefined
      : count("messages", values.messages, 0, { max: 100_000 }),
    idleSessions: count("idle-sessions", values["idle-sessions"], 1000, { min: 0 }),
    loginsOnly: values["logins-only"] ?? false,
    resumeTls: values["resume-tls"] ?? false,
    idleSettleS: count("idle-settle", values["idle-settle"], 40, { min: 0, max: 600 }),
    cert,
    rounds: count("rounds", values.rounds, 1, { max: 10 }),
    password,
    json: values.json ?? false,
  };
}

/** A server under test, whichever it is. */
interface Target {
  name: ServerName;
  version: string;
  pid: number;
  port: number;
  command: string;
  setup: string;
  output(): string;
  stop(): Promise<{ code: number; signal: string | null; killed: boolean }>;
}

interface Certificate {
  kind: "ecdsa" | "rsa";
  certPath: string;
  keyPath: string;
}

/** One certificate for `localhost` and `*.localhost`, for all three servers. */
async function makeCertificate(dir: string, kind: "ecdsa" | "rsa"): Promise<Certificate> {
  if (kind === "ecdsa") {
    const { certPath, keyPath } = await ensureCertificate({ dataDir: dir, domain: DOMAIN });
    return { kind, certPath, keyPath };
  }
  const certPath = join(dir, `${DOMAIN}.crt`);
  const keyPath = join(dir, `${DOMAIN}.key`);
  await Deno.mkdir(dir, { recursive: true });
  const { success, stderr } = await new Deno.Command("openssl", {
    args: [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30"],
      ...["-subj", `/CN=${DOMAIN}`],
      ...["-addext", `subjectAltName=DNS:${DOMAIN},DNS:*.${DOMAIN}`],
      ...["-keyout", keyPath, "-out", certPath],
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(`Cannot create an RSA certificate: ${new TextDecoder().decode(stderr)}`);
  }
  return { kind, certPath, keyPath };
}

async function gitRevision(): Promise<string> {
  try {
    const { stdout, success } = await new Deno.Command("git", {
      args: ["rev-parse", "--short", "HEAD"],
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      stdout: "piped",
      stderr: "null",
    }).output();
    const rev = new TextDecoder().decode(stdout).trim();
    return success && rev !== "" ? `git ${rev}` : "working tree";
  } catch {
    return "working tree";
  }
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Starts one server in `dir` with `accounts` accounts bench1..benchN. */
/** How to start a server under test. */
interface TargetSetup {
  /** Its directory: configuration, data, log. */
  dir: string;
  cert: Certificate;
  /** Accounts bench1..bench<accounts>, all with `password`. */
  accounts: number;
  password: string;
  /** Create the accounts (false: they exist from an earlier start in `dir`). */
  create: boolean;
}

/** Starts a server of this project (Verona or the floor), pinned to the server CPU. */
async function projectTarget(
  name: ServerName,
  run: { script?: string; args: string[] },
  setup: string,
): Promise<Target> {
  const server = await spawnServer({
    ...run,
    pinCpus: SERVER_CPUS,
    startTimeoutMs: START_TIMEOUT_MS,
  });
  return {
    name,
    version: await gitRevision(),
    pid: server.pid,
    port: server.port,
    command: server.command.map(shellQuote).join(" "),
    setup,
    output: () => `${server.stdout()}${server.stderr()}`,
    stop: () => server.stop(STOP_GRACE_MS),
  };
}

/** Starts one server, pinned to the server CPU. */
async function startTarget(name: ServerName, setup: TargetSetup): Promise<Target> {
  const { dir, cert, accounts, password, create } = setup;
  const accountSet = { prefix: "bench", count: accounts, password, create };
  if (name === "floor") {
    return await projectTarget(
      name,
      {
        script: FLOOR_SCRIPT,
        args: ["--cert", cert.certPath, "--key", cert.keyPath, "--password", password],
      },
      "tests/bench/login_floor.ts: node:net + STARTTLS + node:tls and lib/sasl's SCRAM, " +
        "fixed replies, no XML parser, storage or routing (logins and idle memory only)",
    );
  }
  if (name === "verona") {
    if (create) await createAccounts(dir, "bench", accounts, password);
    // As load.ts writes it for its own server: no connection cap below the load, and no input
    // shaping after login (a load generator floods by design); logins stay shaped.
    const configPath = join(dir, "verona.toml");
    await Deno.writeTextFile(
      configPath,
      `[tls]\ncert = ${JSON.stringify(cert.certPath)}\nkey = ${JSON.stringify(cert.keyPath)}\n` +
        `required = true\n\n[limits]\nmax_connections = ${accounts + 10_000}\n` +
        `max_connections_per_ip = ${accounts + 10_000}\n` +
        `c2s_rate_bytes = 1000000000000\nc2s_burst_bytes = 1000000000000\n` +
        // Message archiving (XEP-0313) is on by default in Verona; neither ejabberd nor Prosody
        // gets mod_mam here, so it is off in all three.
        "\n[mam]\nenabled = false\n",
    );
    return await projectTarget(
      name,
      { args: ["--domain", DOMAIN, "--data", dir, "--config", configPath] },
      `main.ts start, ${accounts} accounts in SQLite (temp dir), ` +
        "max_connections(_per_ip) raised, no c2s input shaping after login, mam module off",
    );
  }
  const options = {
    dir,
    domain: DOMAIN,
    certPath: cert.certPath,
    keyPath: cert.keyPath,
    accounts: accountSet,
    pinCpus: SERVER_CPUS,
    startTimeoutMs: START_TIMEOUT_MS,
  };
  const running = name === "prosody" ? await startProsody(options) : await startEjabberd(options);
  return {
    name,
    version: (await debianVersion(name)) ?? "unknown",
    pid: running.server.pid,
    port: running.port,
    command: running.server.command.map(shellQuote).join(" "),
    setup: running.setup,
    output: running.server.output,
    stop: () => running.server.stop(STOP_GRACE_MS),
  };
}

interface IdleResult {
  sessionsPerBatch: number;
  /** Seconds each batch stayed idle before its settled reading. */
  settleS: number;
  /** Server RSS before any session, after the first batch (settled), after the second. */
  rssKiB: number[];
  /** Server RSS once its CPU was quiet after the first batch, and after the second. */
  rssAtOnceKiB: number[];
  /** Settled RSS growth per session of the second batch: one-time costs are already paid. */
  kibPerSession: number;
  /** Settled RSS growth per session of the first batch, one-time costs included. */
  kibPerSessionFirst: number;
  /** The same two before the wait: what the burst of logins left on top. */
  kibPerSessionAtOnce: number;
  kibPerSessionFirstAtOnce: number;
  /** Sessions the server had dropped by the time the last RSS was read (should be 0). */
  lost: number;
}

/**
 * Opens two batches of idle sessions, reads the server's RSS after each at once and after
 * `settleS` seconds, closes them.
 */
async function idleMemory(
  target: Target,
  sessions: number,
  settleS: number,
  password: string,
  ticks: number,
): Promise<IdleResult> {
  const clients: BenchClient[] = [];
  const rss: number[] = [];
  const atOnce: number[] = [];
  let lost = NaN;
  try {
    await cpuQuiet(target.pid, ticks);
    rss.push(await rssKiB(target.pid));
    for (let batch = 1; batch <= 2; batch++) {
      let next = (batch - 1) * sessions;
      const end = batch * sessions;
      const worker = async () => {
        while (next < end) {
          const client = new BenchClient();
          clients.push(client);
          await client.login({
            host: "127.0.0.1",
            port: target.port,
            domain: DOMAIN,
            username: `bench${++next}`,
            password,
            mechanism: "SCRAM-SHA-1",
            resource: "idle",
            timeoutMs: LOGIN_TIMEOUT_MS,
          });
        }
      };
      await Promise.all(Array.from({ length: LOGIN_CONCURRENCY }, worker));
      await cpuQuiet(target.pid, ticks);
      atOnce.push(await rssKiB(target.pid));
      if (settleS > 0) await new Promise((resolve) => setTimeout(resolve, settleS * 1000));
      rss.push(settleS > 0 ? await rssKiB(target.pid) : atOnce[batch - 1]);
    }
    lost = clients.filter((c) => c.closeReason !== undefined).length;
  } finally {
    for (const client of clients) client.close();
  }
  const per = (from: number, to: number) => Math.round((to - from) / sessions * 10) / 10;
  return {
    sessionsPerBatch: sessions,
    settleS,
    rssKiB: rss,
    rssAtOnceKiB: atOnce,
    kibPerSession: per(rss[1], rss[2]),
    kibPerSessionFirst: per(rss[0], rss[1]),
    kibPerSessionAtOnce: per(rss[1], atOnce[1]),
    kibPerSessionFirstAtOnce: per(rss[0], atOnce[0]),
    lost,
  };
}

/** Runs tests/bench/load.ts against the target on the generator's CPU; its JSON report. */
async function runLoad(
  target: Target,
  options: Options,
  children: Set<Deno.ChildProcess>,
): Promise<{ report: Record<string, unknown>; args: string[] }> {
  // The floor answers logins only.
  const loginsOnly = options.loginsOnly || target.name === "floor";
  const args = [
    ...["--host", "127.0.0.1", "--port", String(target.port), "--server-pid", String(target.pid)],
    ...["--clients", String(options.clients)],
    ...["--warmup-logins", String(options.warmupLogins)],
    ...(options.resumeTls ? ["--resume-tls"] : []),
    ...(loginsOnly
      ? ["--chat-pairs", "0", "--pep-contacts", "0", "--occupants", "0"]
      : ["--chat-pairs", String(options.chatPairs), "--chat-to", "full"]),
    ...(loginsOnly ? [] : ["--occupants", String(options.occupants)]),
    ...(options.messages === undefined || loginsOnly
      ? []
      : ["--messages", String(options.messages)]),
    ...["--domain", DOMAIN, "--password", options.password, "--json"],
  ];
  const load = [Deno.execPath(), "run", ...SCRIPT_PERMISSIONS, LOAD_SCRIPT, ...args];
  const command = onPath("taskset") ? ["taskset", "-c", GENERATOR_CPUS, ...load] : load;
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  children.add(child);
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // ended meanwhile
    }
  }, LOAD_KILL_MS);
  try {
    const { stdout, stderr, code } = await child.output();
    const out = new TextDecoder().decode(stdout).trim();
    const line = out.split("\n").findLast((l) => l.startsWith("{"));
    if (line === undefined) {
      throw new Error(
        `load.ts exited with ${code} and no report:\n${out}\n${new TextDecoder().decode(stderr)}`,
      );
    }
    return { report: JSON.parse(line), args };
  } finally {
    clearTimeout(timer);
    children.delete(child);
  }
}

// ---------------------------------------------------------------------------------------------
// The table

interface ServerResult {
  name: ServerName;
  round: number;
  /** The 1-, 5- and 15-minute load averages of the machine before and after this server ran. */
  loadAverage?: { before: string; after: string };
  version?: string;
  command?: string;
  setup?: string;
  pid?: number;
  idle?: IdleResult;
  load?: Record<string, unknown>;
  error?: string;
  stop?: { code: number; signal: string | null; killed: boolean };
}

/** The value at `path` inside a parsed JSON report, or undefined. */
function pick(value: unknown, ...path: (string | number)[]): unknown {
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

function num(value: unknown): number {
  return typeof value === "number" ? value : NaN;
}

/** The figures of one server, by row; NaN where not measured. */
function figures(result: ServerResult): Record<string, number> {
  const load = result.load;
  const logins = (key: string) => num(pick(load, "logins", key));
  const chat = (key: string) => num(pick(load, "chat", 0, key));
  const fan = (key: string) => num(pick(load, "fanout", 0, key));
  const pep = (key: string) => num(pick(load, "pep", key));
  const shares = [
    logins("generatorCpuShare"),
    chat("generatorCpuShare"),
    pep("generatorCpuShare"),
    num(pick(load, "joins", "generatorCpuShare")),
    fan("generatorCpuShare"),
  ].filter(Number.isFinite);
  return {
    loginCpu: logins("serverCpuMsPerLogin"),
    loginCpuCold: num(pick(load, "warmup", "serverCpuMsPerLogin")),
    loginRate: logins("loginsPerSecond"),
    loginResumed: logins("tlsResumed") / logins("clients"),
    loginBusy: logins("serverCpuShare"),
    chatCpu: chat("serverCpuUsPerDelivery"),
    chatRate: chat("deliveriesPerSecond"),
    chatBusy: chat("serverCpuShare"),
    chatP50: chat("latencyMsP50"),
    chatP99: chat("latencyMsP99"),
    pepCpu: pep("serverCpuUsPerDelivery"),
    pepRate: pep("deliveriesPerSecond"),
    pepBusy: pep("serverCpuShare"),
    pepP50: pep("latencyMsP50"),
    pepP99: pep("latencyMsP99"),
    pepRtt: pep("publishRttMsP50"),
    joinCpu: num(pick(load, "joins", "serverCpuMsPerJoin")),
    mucCpu: fan("serverCpuUsPerDelivery"),
    mucRate: fan("deliveriesPerSecond"),
    mucBusy: fan("serverCpuShare"),
    mucP50: fan("latencyMsP50"),
    mucP99: fan("latencyMsP99"),
    idleKiB: num(result.idle?.kibPerSession),
    idleKiBFirst: num(result.idle?.kibPerSessionFirst),
    idleKiBAtOnce: num(result.idle?.kibPerSessionAtOnce),
    idleKiBFirstAtOnce: num(result.idle?.kibPerSessionFirstAtOnce),
    generatorMax: shares.length === 0 ? NaN : Math.max(...shares),
    missing: chat("missing") + fan("missing") + chat("errors") + fan("errors") +
      (Number.isFinite(pep("missing")) ? pep("missing") + pep("errors") : 0),
  };
}

const ROWS: [key: string, label: string, unit: string][] = [
  ["loginCpu", "server CPU per login", "ms"],
  ["loginCpuCold", "server CPU per login, cold (first WARMUP after start)", "ms"],
  ["loginRate", "logins/s", ""],
  ["loginResumed", "logins: TLS sessions resumed", "busy"],
  ["loginBusy", "logins: server CPU busy", "busy"],
  ["chatCpu", "1:1 chat: server CPU per delivery", "µs"],
  ["chatRate", "1:1 chat: deliveries/s", ""],
  ["chatBusy", "1:1 chat: server CPU busy", "busy"],
  ["chatP50", "1:1 chat: latency p50", "ms"],
  ["chatP99", "1:1 chat: latency p99", "ms"],
  ["pepCpu", "PEP: server CPU per event", "µs"],
  ["pepRate", "PEP: events/s", ""],
  ["pepBusy", "PEP: server CPU busy", "busy"],
  ["pepP50", "PEP: latency p50", "ms"],
  ["pepP99", "PEP: latency p99", "ms"],
  ["pepRtt", "PEP: publish iq round trip p50", "ms"],
  ["joinCpu", "MUC join (room of CLIENTS): server CPU per join", "ms"],
  ["mucCpu", "MUC: server CPU per delivery", "µs"],
  ["mucRate", "MUC: deliveries/s", ""],
  ["mucBusy", "MUC: server CPU busy", "busy"],
  ["mucP50", "MUC: latency p50", "ms"],
  ["mucP99", "MUC: latency p99", "ms"],
  ["idleKiB", "idle session: RSS per session (after SETTLE s idle)", "KiB"],
  ["idleKiBFirst", "idle session: RSS per session, 1st batch (after SETTLE s)", "KiB"],
  ["idleKiBAtOnce", "idle session: RSS per session, at once", "KiB"],
  ["idleKiBFirstAtOnce", "idle session: RSS per session, 1st batch, at once", "KiB"],
  ["generatorMax", "generator CPU, busiest phase", "generator"],
  ["missing", "deliveries missing + errors", ""],
];

function show(value: number, unit: string): string {
  if (!Number.isFinite(value)) return "-";
  if (unit === "busy") return `${Math.round(value * 100)} %`;
  if (unit === "generator") {
    return `${Math.round(value * 100)} %${value >= SATURATED ? " SATURATED" : ""}`;
  }
  const text = Math.abs(value) >= 100 ? String(Math.round(value)) : String(value);
  return unit === "" ? text : `${text} ${unit}`;
}

function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return "-";
  return `${(a / b).toFixed(2)}`;
}

/**
 * The median of each figure over the rounds (the worst for missing deliveries and generator
 * load); NaNs are left out, NaN if no round has a value.
 */
function medianFigures(results: ServerResult[]): Record<string, number> {
  const all = results.map(figures);
  const median: Record<string, number> = {};
  for (const [key] of ROWS) {
    const values = all.map((f) => f[key]).filter(Number.isFinite).sort((a, b) => a - b);
    const mid = values.length >> 1;
    // Missing deliveries and a saturated generator count if they happened in any round.
    const worst = key === "missing" || key === "generatorMax";
    median[key] = values.length === 0
      ? NaN
      : worst
      ? values[values.length - 1]
      : values.length % 2 === 1
      ? values[mid]
      : Math.round((values[mid - 1] + values[mid]) / 2 * 100) / 100;
  }
  return median;
}

/** The machine's load averages (proc(5) loadavg, via cat as in _proc.ts), or "unknown". */
async function loadAverage(): Promise<string> {
  try {
    const { stdout, success } = await new Deno.Command("cat", {
      args: ["/proc/loadavg"],
      stdout: "piped",
      stderr: "null",
    }).output();
    const text = new TextDecoder().decode(stdout).split(" ").slice(0, 3).join(" ");
    return success && text !== "" ? text : "unknown";
  } catch {
    return "unknown";
  }
}

function renderTable(byName: Map<ServerName, Record<string, number>>, options: Options): string {
  const columns = options.servers.map((name) => DISPLAY[name]);
  // Verona's ratio to each other server; the floor's to ejabberd: the best any Deno server gets.
  const ratios = ([
    ["verona", "ejabberd"],
    ["verona", "prosody"],
    ["floor", "ejabberd"],
  ] as const).filter(([a, b]) => options.servers.includes(a) && options.servers.includes(b));
  const header = [
    "figure",
    ...columns,
    ...ratios.map(([a, b]) => `${a === "floor" ? "floor" : DISPLAY[a]}/${DISPLAY[b]}`),
  ];
  const rows = ROWS.map(([key, template, unit]) => {
    const label = template.replace("CLIENTS", String(options.clients))
      .replace("WARMUP", String(options.warmupLogins))
      .replace("SETTLE", String(options.idleSettleS))
      .replace(/^MUC:/, `MUC, ${options.occupants} occupants:`)
      .replace(/^PEP:/, `PEP, ${Math.min(500, options.clients - 1)} contacts:`);
    const values = options.servers.map((name) => byName.get(name)?.[key] ?? NaN);
    return [
      label,
      ...values.map((v) => show(v, unit)),
      ...ratios.map(([a, b]) =>
        unit === "busy" || unit === "generator" || key === "missing"
          ? ""
          : ratio(byName.get(a)?.[key] ?? NaN, byName.get(b)?.[key] ?? NaN)
      ),
    ];
  });
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => row[i].length)));
  const line = (row: string[]) =>
    row.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

// ---------------------------------------------------------------------------------------------

/** Runs the comparison; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const options = optionsOrExit(() => parseOptions(args), USAGE);
  if (typeof options === "number") return options;
  const print = (line: string) => {
    if (!options.json) console.log(line);
  };
  const log = (line: string) => {
    if (!options.json) console.log(line);
    else console.error(line);
  };
  const command = ["deno task bench:compare", ...args.map(shellQuote)].join(" ");
  print(`Verona / ejabberd / Prosody / Deno floor comparison\ncommand: ${command}`);

  const foreign = options.servers.filter((name) => name === "ejabberd" || name === "prosody");
  if (foreign.length > 0) {
    const installed = await ensureDebianPackages(foreign);
    if (installed.length > 0) log(`installed Debian packages: ${installed.join(", ")}`);
  }
  const cpus = navigator.hardwareConcurrency;
  const pinned = onPath("taskset") && cpus >= 2 && await pinProcess(Deno.pid, GENERATOR_CPUS);
  if (!pinned) log("warning: NOT pinned (needs taskset and 2 CPUs): figures are less comparable");
  const ticks = await clockTicks();
  const accounts = Math.max(options.clients, 2 * options.idleSessions);
  const work = await Deno.makeTempDir({ prefix: "verona-compare-" });
  const targets = new Set<Target>();
  const children = new Set<Deno.ChildProcess>();
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    cleaning ??= (async () => {
      for (const child of children) {
        try {
          child.kill("SIGKILL");
        } catch {
          // ended meanwhile
        }
      }
      await Promise.allSettled([...targets].map((target) => target.stop()));
      await Deno.remove(work, { recursive: true }).catch(() => {});
    })();
  const onSignal = () => {
    console.error("interrupted: stopping every server");
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const results: ServerResult[] = [];
  const report: Record<string, unknown> = {
    command,
    options: { ...options, password: undefined, json: undefined },
    cpus,
    pinned: pinned ? { server: SERVER_CPUS, generator: GENERATOR_CPUS } : false,
    accounts,
    results,
  };
  try {
    const cert = await makeCertificate(join(work, "cert"), options.cert);
    report.certificate = options.cert === "ecdsa" ? "ECDSA P-256" : "RSA-2048";
    print(
      `certificate: ${report.certificate} for ${DOMAIN} and *.${DOMAIN}, one for all; ` +
        `${accounts} accounts each; servers on CPU ${SERVER_CPUS}, generator on CPU ` +
        `${GENERATOR_CPUS}${pinned ? "" : " (NOT pinned)"}; no message archiving (MAM) in any`,
    );
    for (let round = 1; round <= options.rounds; round++) {
      for (const name of options.servers) {
        const result: ServerResult = { name, round };
        results.push(result);
        const started = performance.now();
        const before = await loadAverage();
        const dir = join(work, `${name}-${round}`);
        await Deno.mkdir(dir);
        // Load and idle memory each on a fresh process: 2,000 sessions opened and closed before
        // the load made Prosody's logins and deliveries 1.5-3 times as costly.
        const phases = options.idleSessions > 0 ? ["load", "idle"] as const : ["load"] as const;
        for (const phase of phases) {
          let target: Target | undefined;
          try {
            target = await startTarget(name, {
              dir,
              cert,
              accounts,
              password: options.password,
              create: phase === "load",
            });
            targets.add(target);
            if (phase === "load") {
              Object.assign(result, {
                version: target.version,
                command: target.command,
                setup: target.setup,
                pid: target.pid,
              });
              log(
                `\n${DISPLAY[name]} ${target.version}${
                  options.rounds > 1 ? `, round ${round} of ${options.rounds}` : ""
                }: ${target.setup}`,
              );
            }
            log(`  ${phase}: pid ${target.pid}, port ${target.port}`);
            if (phase === "load") {
              const load = await runLoad(target, options, children);
              result.load = load.report;
              if (typeof load.report.error === "string") {
                result.error = `load: ${load.report.error}`;
                log(`  load failed: ${load.report.error}`);
              }
            } else {
              result.idle = await idleMemory(
                target,
                options.idleSessions,
                options.idleSettleS,
                options.password,
                ticks,
              );
              const [before, first, second] = result.idle.rssKiB;
              const [firstAtOnce, secondAtOnce] = result.idle.rssAtOnceKiB;
              log(
                `  idle memory: RSS ${before} -> ${firstAtOnce}, ${first} after ` +
                  `${options.idleSettleS} s -> ${secondAtOnce}, ${second} after ` +
                  `${options.idleSettleS} s KiB with 0 / ${options.idleSessions} / ` +
                  `${2 * options.idleSessions} sessions`,
              );
            }
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            result.error = result.error === undefined ? `${phase}: ${message}` : result.error;
            log(`  ${phase} FAILED: ${message}`);
          } finally {
            if (target !== undefined) {
              const stop = await target.stop();
              if (phase === "load") result.stop = stop;
              targets.delete(target);
              if (result.error !== undefined) {
                log(
                  `  server output (last lines):\n${
                    target.output().split("\n").slice(-15).join("\n")
                  }`,
                );
              }
            }
          }
          if (phase === "load" && result.load === undefined) break; // it did not start
        }
        result.loadAverage = { before, after: await loadAverage() };
        log(
          `  ${DISPLAY[name]} finished in ${Math.round((performance.now() - started) / 1000)} s ` +
            `(machine load average ${before} before, ${result.loadAverage.after} after)`,
        );
      }
    }
  } catch (error) {
    report.error = error instanceof Error ? error.message : String(error);
  } finally {
    await cleanup();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }

  const medians = new Map(
    options.servers.map((name) => [name, medianFigures(results.filter((r) => r.name === name))]),
  );
  report.table = Object.fromEntries(medians);
  print(
    `\n${options.clients} clients, ${options.chatPairs} chat pairs (full JIDs), a room of ` +
      `${options.occupants}; ${options.warmupLogins} warm-up logins before the timed ones` +
      (options.resumeTls ? ", whose TLS sessions the timed ones resume; " : "; ") +
      `idle memory: 2 x ${options.idleSessions} sessions, each batch read at once and after ` +
      `${options.idleSettleS} s idle` +
      (options.rounds > 1 ? `; medians of ${options.rounds} rounds. ` : ". ") +
      "Shared, noisy machine: repeat runs before trusting a difference.\n",
  );
  if (results.length > 0) print(renderTable(medians, options));
  if (report.error !== undefined) console.error(`\nerror: ${report.error}`);
  for (const r of results) {
    if (r.error !== undefined) console.error(`${DISPLAY[r.name]} (round ${r.round}): ${r.error}`);
  }
  // As load.ts: the JSON line comes last in both modes, so a text run keeps every figure too.
  console.log(options.json ? JSON.stringify(report) : `\n${JSON.stringify(report)}`);
  const failed = report.error !== undefined || results.some((r) => r.error !== undefined);
  return failed ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
