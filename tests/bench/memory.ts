// Memory per idle session, measured after garbage collection.
//
//   deno task bench:memory                    # 2 x 1000 sessions each: tcp, tls, xmpp, xmpp-sm,
//                                             # xmpp-direct-tls
//   deno task bench:memory --modes xmpp,xmpp-sm   # the cost of Stream Management alone
//   deno task bench:memory --sessions 500 --modes tls,xmpp --json
//
// For each mode a server runs in a child process started with --v8-flags=--expose-gc; this
// process is the client side, so the client's own memory never counts. The child reports
// Deno.memoryUsage() after forced collections before any session, after a first batch of
// --sessions sessions and after a second one. The second batch's growth divided by its size is
// the cost of one session (the first batch also pays for compiled code, caches and the like).
// "young generation" is V8's new space, which grows with the allocation rate of the logins and
// never shrinks back: it shows up in heapTotal and RSS but is not held by the sessions.
//
// Modes (each a fresh process):
//   tcp   node:net server, plain sockets (the floor of a connection in Deno)
//   tls   node:net server whose sockets are wrapped in a node:tls TLSSocket, as
//         lib/net/transport.ts does after STARTTLS; the client connects with TLS directly
//   xmpp  Verona (lib/server/server.ts) on a fresh data directory; every client does STARTTLS,
//         SCRAM-SHA-1, binds a resource, sends initial presence and a ping
//         (tests/bench/_bench_client.ts)
//   xmpp-sm the same, each client also enabling resumable Stream Management (XEP-0198 §3,
//         `<enable resume='true'/>`) after bind and before the presence, and answering the
//         server's ack requests (§4), as an idle mobile client does
//   xmpp-direct-tls the same as xmpp, over Verona's direct-TLS port (XEP-0368: TLS from the
//         first byte, ALPN xmpp-client, no STARTTLS)
//
// With --snapshot DIR the child also writes a V8 heap snapshot at each point (DevTools format;
// writing them disturbs the RSS figures).
import { lines, SERVER_PERMISSIONS, serverV8Flags } from "./_child.ts";
import { parseArgs } from "node:util";
import { createServer, type Socket } from "node:net";
import { connect as tlsConnect, createSecureContext, TLSSocket } from "node:tls";
import { getHeapSpaceStatistics, writeHeapSnapshot } from "node:v8";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Accounts } from "../../lib/accounts/accounts.ts";
import { defaultConfig } from "../../lib/config/config.ts";
import { ensureCertificate } from "../../lib/net/certificate.ts";
import { Server } from "../../lib/server/server.ts";
import { SqliteAccountStore } from "../../lib/storage/account_store.ts";
import { openDatabase } from "../../lib/storage/sqlite.ts";
import { BenchClient } from "./_bench_client.ts";
import { onPath, pinProcess } from "./_proc.ts";

const MODES = ["tcp", "tls", "xmpp", "xmpp-sm", "xmpp-direct-tls"] as const;
type Mode = typeof MODES[number];
/** The modes that run Verona, with accounts, rather than a bare socket server. */
const isXmpp = (mode: Mode) => mode.startsWith("xmpp");
const SELF = fileURLToPath(import.meta.url);
const DOMAIN = "localhost";
const PASSWORD = "bench-password";
const CONCURRENCY = 16;
const TIMEOUT_MS = 30_000;
/** As the load benchmark: the server on CPU 0, this client side on CPU 1, when taskset is there. */
const SERVER_CPUS = "0";
const CLIENT_CPUS = "1";
const canPin = onPath("taskset") && navigator.hardwareConcurrency >= 2;

const USAGE = `Usage: deno task bench:memory [--sessions N]
                                [--modes tcp,tls,xmpp,xmpp-sm,xmpp-direct-tls]
                                [--json] [--snapshot DIR]

Server memory per idle session after GC (heapUsed, external, heapTotal, RSS), for a bare TCP
socket, a bare TLS socket (node:tls over node:net, as Verona does it), a full Verona
session (STARTTLS, SCRAM-SHA-1, bind, presence), the same with resumable Stream
Management enabled (xmpp-sm) and the same over direct TLS (xmpp-direct-tls, XEP-0368).
Two batches of N sessions (default 1000) are opened; the second batch gives the figures
per session. Verona's figures are taken after its idle sweep (which frees the XML parser of
connections that sent nothing for 10-20 s), as a long-idle session is.`;

/** What the server child reports for one measurement. */
interface Usage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  /** Size of V8's young generation, which grows under allocation load and does not shrink. */
  newSpace: number;
}

// ---------------------------------------------------------------------------------------------
// Server side (child process)

declare const gc: (() => void) | undefined;

async function collected(): Promise<Usage> {
  if (typeof gc !== "function") throw new Error("run with --v8-flags=--expose-gc");
  // Several rounds: finalizers and weak callbacks free native memory a turn later.
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const { rss, heapTotal, heapUsed, external } = Deno.memoryUsage();
  const newSpace = getHeapSpaceStatistics().find((space) => space.space_name === "new_space");
  return { rss, heapTotal, heapUsed, external, newSpace: newSpace?.space_size ?? NaN };
}

async function serve(mode: Mode, dataDir: string, snapshotDir: string | undefined): Promise<void> {
  let count: () => number;
  let port: number;
  let idle = () => {};
  if (isXmpp(mode)) {
    const config = defaultConfig();
    config.domain = DOMAIN;
    config.mucDomain = `conference.${DOMAIN}`;
    config.port = 0;
    config.directTlsPort = mode === "xmpp-direct-tls" ? 0 : null;
    config.bind = "127.0.0.1";
    config.dataDir = dataDir;
    config.databasePath = join(dataDir, "verona.sqlite");
    config.limits.maxConnections = 1_000_000;
    config.limits.maxConnectionsPerIp = 1_000_000;
    const server = await Server.start(config, { log: () => {} });
    port = server.directTlsPort ?? server.port;
    count = () => server.streamCount;
    // What the server's own sweep does to connections idle for 10–20 s, done now: the first
    // call forgets the input seen since the last sweep, the second frees the idle parsers.
    idle = () => {
      server.releaseIdle();
      server.releaseIdle();
    };
  } else {
    const certificate = await ensureCertificate({ dataDir, domain: DOMAIN });
    const secureContext = createSecureContext({
      cert: certificate.certPem,
      key: certificate.keyPem,
    });
    let sessions = 0;
    const listener = createServer({ noDelay: true }, (socket: Socket) => {
      socket.setNoDelay(true);
      const ignore = () => {};
      if (mode === "tcp") {
        socket.on("data", ignore);
        socket.on("error", ignore);
        sessions++;
        return;
      }
      const tls = new TLSSocket(socket, { isServer: true, secureContext });
      tls.on("data", ignore);
      tls.on("error", () => tls.destroy());
      tls.once("secure", () => sessions++);
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    port = (listener.address() as { port: number }).port;
    count = () => sessions;
  }
  const say = (message: unknown) => console.log(JSON.stringify(message));
  say({ port });
  for await (const line of lines(Deno.stdin.readable)) {
    const [command, arg] = line.split(" ");
    if (command === "measure") {
      const expected = Number(arg);
      const until = Date.now() + TIMEOUT_MS;
      while (count() < expected && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      idle();
      const usage = await collected();
      if (snapshotDir !== undefined) {
        writeHeapSnapshot(join(snapshotDir, `${mode}-${expected}.heapsnapshot`));
      }
      say({ sessions: count(), ...usage });
    } else if (command === "exit") {
      Deno.exit(0);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Client side (this process)

async function createAccounts(dataDir: string, count: number): Promise<void> {
  using db = openDatabase(join(dataDir, "verona.sqlite"));
  const accounts = new Accounts(new SqliteAccountStore(db));
  for (let i = 1; i <= count; i += CONCURRENCY) {
    const names = [];
    for (let j = i; j < Math.min(i + CONCURRENCY, count + 1); j++) names.push(`memory${j}`);
    await Promise.all(names.map((name) => accounts.create(name, PASSWORD)));
  }
}

/** Opens one session of `mode`; resolves with what closes it. */
async function connectOne(mode: Mode, port: number, i: number): Promise<() => void> {
  if (isXmpp(mode)) {
    const client = new BenchClient();
    await client.login({
      host: "127.0.0.1",
      port,
      domain: DOMAIN,
      username: `memory${i + 1}`,
      password: PASSWORD,
      mechanism: "SCRAM-SHA-1",
      resource: "memory",
      timeoutMs: TIMEOUT_MS,
      streamManagement: mode === "xmpp-sm",
      directTls: mode === "xmpp-direct-tls",
    });
    return () => client.close();
  }
  const { connect } = await import("node:net");
  if (mode === "tcp") {
    return await new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(() => socket.destroy()));
      socket.once("error", reject);
    });
  }
  return await new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host: "127.0.0.1", port, rejectUnauthorized: false },
      () => resolve(() => socket.destroy()),
    );
    socket.once("error", reject);
  });
}

interface ModeResult {
  mode: Mode;
  /** Sessions per batch; two batches are opened. */
  sessions: number;
  /** Before any session, after the first batch, after the second. */
  points: Usage[];
  /** Bytes per session of the second batch: one-time costs (code, caches) are already paid. */
  perSession: Usage;
  /** Bytes per session of the first batch, one-time costs included. */
  perSessionFirst: Usage;
}

function perSession(from: Usage, to: Usage, sessions: number): Usage {
  const per = (key: keyof Usage) => Math.round((to[key] - from[key]) / sessions);
  return {
    rss: per("rss"),
    heapTotal: per("heapTotal"),
    heapUsed: per("heapUsed"),
    external: per("external"),
    newSpace: per("newSpace"),
  };
}

async function measureMode(
  mode: Mode,
  sessions: number,
  snapshotDir: string | undefined,
): Promise<ModeResult> {
  const dataDir = await Deno.makeTempDir({ prefix: "verona-memory-" });
  try {
    if (isXmpp(mode)) await createAccounts(dataDir, 2 * sessions);
    const args = [
      "run",
      ...serverV8Flags(["--expose-gc"]),
      ...SERVER_PERMISSIONS,
      SELF,
      "--serve",
      mode,
      "--data",
      dataDir,
      ...(snapshotDir ? ["--snapshot", snapshotDir] : []),
    ];
    const command = canPin
      ? ["taskset", "-c", SERVER_CPUS, Deno.execPath(), ...args]
      : [Deno.execPath(), ...args];
    const child = new Deno.Command(command[0], {
      args: command.slice(1),
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
      env: { NO_COLOR: "1" },
    }).spawn();
    const writer = child.stdin.getWriter();
    const replies = lines(child.stdout);
    const ask = async (line?: string) => {
      if (line !== undefined) await writer.write(new TextEncoder().encode(`${line}\n`));
      const next = await replies.next();
      if (next.done) throw new Error(`the ${mode} server exited`);
      return JSON.parse(next.value);
    };
    const closers: (() => void)[] = [];
    try {
      const { port } = await ask();
      const points: Usage[] = [];
      let opened = 0;
      for (let batch = 0; batch <= 2; batch++) {
        const target = batch * sessions;
        const worker = async () => {
          while (opened < target) closers.push(await connectOne(mode, port, opened++));
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
        // Let the last handshakes settle on the server side.
        if (batch > 0) await new Promise((resolve) => setTimeout(resolve, 500));
        const { sessions: open, ...usage } = await ask(`measure ${target}`);
        if (open !== target) {
          throw new Error(`${mode}: the server has ${open} sessions, expected ${target}`);
        }
        points.push(usage);
      }
      return {
        mode,
        sessions,
        points,
        perSession: perSession(points[1], points[2], sessions),
        perSessionFirst: perSession(points[0], points[1], sessions),
      };
    } finally {
      await writer.write(new TextEncoder().encode("exit\n")).catch(() => {});
      await child.status;
      for (const close of closers) close();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      sessions: { type: "string" },
      modes: { type: "string" },
      json: { type: "boolean" },
      snapshot: { type: "string" },
      serve: { type: "string" },
      data: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.serve !== undefined) {
    await serve(values.serve as Mode, values.data!, values.snapshot);
    return 0;
  }
  const sessions = Number(values.sessions ?? "1000");
  if (!Number.isInteger(sessions) || sessions < 1 || sessions > 20_000) {
    console.error(`error: --sessions must be an integer from 1 to 20000\n\n${USAGE}`);
    return 2;
  }
  const modes = (values.modes ?? MODES.join(",")).split(",").map((m) => m.trim());
  for (const mode of modes) {
    if (!(MODES as readonly string[]).includes(mode)) {
      console.error(`error: unknown mode "${mode}" (${MODES.join(", ")})\n\n${USAGE}`);
      return 2;
    }
  }
  const pinned = canPin && await pinProcess(Deno.pid, CLIENT_CPUS);
  if (!values.json) {
    console.log(
      pinned
        ? `server on CPU ${SERVER_CPUS} (taskset), clients on CPU ${CLIENT_CPUS}`
        : "NOT pinned (needs taskset and 2 CPUs)",
    );
  }
  const results: ModeResult[] = [];
  for (const mode of modes as Mode[]) {
    const result = await measureMode(mode, sessions, values.snapshot);
    results.push(result);
    if (!values.json) {
      const show = (p: Usage) =>
        `heapUsed ${kib(p.heapUsed)}, external ${kib(p.external)}, ` +
        `heapTotal ${kib(p.heapTotal)} (young generation ${kib(p.newSpace)}), RSS ${kib(p.rss)}`;
      console.log(
        `${mode.padEnd(15)}  sessions ${sessions + 1}..${2 * sessions}: ${show(result.perSession)}`,
      );
      console.log(
        `${"".padEnd(15)}  sessions 1..${sessions}:${" ".repeat(String(sessions).length + 1)} ${
          show(result.perSessionFirst)
        }`,
      );
    }
  }
  const plain = results.find((r) => r.mode === "xmpp");
  const compared: [Mode, string][] = [
    ["xmpp-sm", "Stream Management"],
    ["xmpp-direct-tls", "Direct TLS instead of STARTTLS"],
  ];
  for (const [mode, what] of compared) {
    const other = results.find((r) => r.mode === mode);
    if (values.json || plain === undefined || other === undefined) continue;
    const delta = (key: keyof Usage, batch: "perSession" | "perSessionFirst") =>
      kib(other[batch][key] - plain[batch][key]);
    console.log(
      `${what} per session (${mode} - xmpp): RSS ${delta("rss", "perSession")}, ` +
        `heapUsed ${delta("heapUsed", "perSession")} (2nd batch); RSS ${
          delta("rss", "perSessionFirst")
        }, heapUsed ${delta("heapUsed", "perSessionFirst")} (1st batch)`,
    );
  }
  if (values.json) console.log(JSON.stringify({ sessions, results }));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
