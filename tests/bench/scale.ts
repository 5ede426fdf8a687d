// Scale benchmark: many concurrent sessions, big rosters, many rooms, a big room. Each phase
// prints one block of figures that shows whether a cost grows faster than the load:
//   1 sessions    N logins (STARTTLS + SCRAM-SHA-1 + bind + presence) in batches: login rate,
//                 server CPU per login and RSS at each batch; server CPU while all sit idle;
//                 how long the status line (SIGUSR2, admin socket) takes with N sessions
//   2 rosters     an account with R contacts (most online) logs in and out: CPU of its initial
//                 presence (broadcast and probes) and of its unavailable broadcast, for each R;
//                 then some of its contacts log out and in while it is offline (each login
//                 presents itself to it and probes it: must not cost O(R))
//   3 rooms       K rooms, each created by a session, then a message in each, in batches
//   4 big room    one room filled to M occupants in batches of 100 (CPU per join and per
//                 presence delivered), then groupchat fan-out to all of them
// The server runs pinned to CPU 0 (taskset); the clients live in several worker processes
// (this file with --worker), pinned with this one to CPU 1, each under the open-file cap, and
// connect from several 127.0.0.x addresses.
//
//   deno task bench:scale                       # as many sessions as the open-file cap allows
//   deno task bench:scale --sessions 5000 --rooms 2000 --idle-seconds 5   # a quick run
import { lines, SCRIPT_PERMISSIONS } from "./_child.ts";
import { optionsOrExit, UsageError } from "./_cli.ts";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ServerStatus, statusLine } from "../../lib/admin/admin_commands.ts";
import { ADMIN_SOCKET_NAME, askServer } from "../../lib/admin/admin_socket.ts";
import { escapeAttr } from "../../lib/xml/mod.ts";
import { BenchClient } from "./_bench_client.ts";
import { configureInstantRoom, enter } from "./_muc_client.ts";
import { type Bench, pool, round } from "./_phase.ts";
import { clockTicks, cpuMs, onPath, pinProcess, rssKiB } from "./_proc.ts";
import { type BenchRoster, createScaleData } from "./_scale_data.ts";
import { type BenchServer, spawnServer } from "./_server.ts";

const USAGE = `Usage: deno task bench:scale [options]

Starts Verona (pinned to CPU 0) on a fresh data directory with accounts and rosters
written before it starts, and drives it from worker processes on CPU 1:
  1 sessions  --sessions N logins in --batches batches (login rate, CPU per login, RSS
              and RSS per session at each), --idle-seconds of idle server CPU, and the
              time of the status line (SIGUSR2, admin socket)
  2 rosters   for each R of --rosters, an account with R contacts (9 in 10 online)
              logs in and out: CPU of its presence broadcast and probes, per contact;
              then 200 of its contacts log out and in again while it is offline
  3 rooms     --rooms rooms created by as many sessions, then one message in each
  4 big room  a room filled to --room-size occupants, 100 joins at a time, then
              --room-messages groupchat messages to all of them

Designed for 50,000 sessions. One process may hold only as many sockets as its open-file
limit (ulimit -n) allows: the default of --sessions is the smaller of 50000 and that
limit minus 1000, and a larger value is refused.

Options:
  --sessions N       concurrent sessions (default: min(50000, open-file limit - 1000))
  --batches N        login batches (default: 10)
  --workers N        client processes (default: enough for 5000 sessions each, at least 4)
  --addresses N      loopback source addresses 127.0.0.1..N (default: 8)
  --concurrency N    logins or joins in progress per worker (default: 16)
  --idle-seconds S   idle measurement (default: 20)
  --rosters LIST     roster sizes, 0 to skip (default: 1000,5000)
  --rooms N          rooms in phase 3, 0 to skip (default: 10000)
  --room-size N      occupants of the big room, 0 to skip (default: 1000)
  --room-messages N  groupchat messages to the big room (default: 50)
  --timeout S        longest wait for one step (default: 300)
  --json             print only one JSON line with every figure
  -h, --help         show this help`;

const DESIGN_SESSIONS = 50_000;
/** Descriptors a process needs besides its client sockets (database, listener, pipes...). */
const FD_HEADROOM = 1_000;
const SESSIONS_PER_WORKER = 5_000;
const DOMAIN = "localhost";
const MUC = `conference.${DOMAIN}`;
const PASSWORD = "scale-password";
const RESOURCE = "scale";
/** Of a big roster, this share of contacts is online (the others are accounts never logged in). */
const ONLINE_SHARE = 0.9;
const JOIN_BATCH = 100;
/** Logins and logouts of each big-roster account, averaged. */
const ROSTER_ROUNDS = 5;
const FANOUT_WINDOW = 20;
const SELF = fileURLToPath(import.meta.url);

interface Options {
  sessions: number;
  batches: number;
  workers: number;
  addresses: number;
  concurrency: number;
  idleSeconds: number;
  rosters: number[];
  rooms: number;
  roomSize: number;
  roomMessages: number;
  timeoutMs: number;
  json: boolean;
  /** The open-file limit of this machine, as `ulimit -n` tells it. */
  fileLimit: number;
}

function count(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

/** The soft open-file limit (what `ulimit -n` prints), Infinity for "unlimited". */
async function openFileLimit(): Promise<number> {
  const { stdout } = await new Deno.Command("sh", { args: ["-c", "ulimit -n"], stdout: "piped" })
    .output();
  const text = new TextDecoder().decode(stdout).trim();
  return text === "unlimited" ? Infinity : Number(text);
}

function parseOptions(args: string[], fileLimit: number): Options | "help" {
  const { values, positionals } = parseArgs({
    args,
    options: {
      sessions: { type: "string" },
      batches: { type: "string" },
      workers: { type: "string" },
      addresses: { type: "string" },
      concurrency: { type: "string" },
      "idle-seconds": { type: "string" },
      rosters: { type: "string" },
      rooms: { type: "string" },
      "room-size": { type: "string" },
      "room-messages": { type: "string" },
      timeout: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return "help";
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const cap = fileLimit - FD_HEADROOM;
  const sessions = values.sessions === undefined
    ? Math.min(DESIGN_SESSIONS, cap)
    : count("sessions", values.sessions, 1, DESIGN_SESSIONS);
  if (sessions > cap) {
    throw new UsageError(
      `--sessions ${sessions} cannot be held by one server process here: this machine caps ` +
        `open files at ${fileLimit} per process (ulimit -n), so at most ${cap} sessions`,
    );
  }
  const workers = values.workers === undefined
    ? Math.max(4, Math.ceil(sessions / SESSIONS_PER_WORKER))
    : count("workers", values.workers, 1, 64);
  if (Math.ceil(sessions / workers) > cap) {
    throw new UsageError(`--workers ${workers}: each would hold more than ${cap} sockets`);
  }
  const rosters = (values.rosters ?? "1000,5000").split(",").map((part) =>
    count("rosters", part.trim(), 0, 100_000)
  ).filter((r) => r > 0);
  const inRosters = rosters.reduce((sum, r) => sum + Math.round(r * ONLINE_SHARE), 0);
  if (inRosters + RELOGINS > sessions) {
    throw new UsageError(
      `--rosters ${rosters.join(",")}: ${ONLINE_SHARE * 100} % of their contacts online and ` +
        `${RELOGINS} sessions outside them need more than ${sessions} sessions`,
    );
  }
  const rooms = count("rooms", values.rooms ?? "10000", 0, 1_000_000);
  const roomSize = count("room-size", values["room-size"] ?? "1000", 0, 100_000);
  if (rooms > sessions) throw new UsageError("--rooms may not exceed --sessions");
  if (roomSize > sessions) throw new UsageError("--room-size may not exceed --sessions");
  return {
    sessions,
    batches: count("batches", values.batches ?? "10", 1, 1000),
    workers,
    addresses: count("addresses", values.addresses ?? "8", 1, 250),
    concurrency: count("concurrency", values.concurrency ?? "16", 1, 1000),
    idleSeconds: count("idle-seconds", values["idle-seconds"] ?? "20", 1, 600),
    rosters,
    rooms,
    roomSize,
    roomMessages: count("room-messages", values["room-messages"] ?? "50", 1, 10_000),
    timeoutMs: 1000 * count("timeout", values.timeout ?? "300", 1, 3600),
    json: values.json ?? false,
    fileLimit,
  };
}

// ---------------------------------------------------------------------------------------------
// Worker side: a child process holding a share of the sessions, driven by JSON lines on stdin.

/** What the parent asks a worker; every request carries an id, echoed in the answer. */
type Request =
  | {
    id: number;
    cmd: "login";
    ids: number[];
    port: number;
    concurrency: number;
    addresses: number;
  }
  | { id: number; cmd: "watch"; name: string; all: string[] }
  | { id: number; cmd: "counts" }
  | { id: number; cmd: "rooms"; ids: number[]; concurrency: number }
  | { id: number; cmd: "room-messages"; ids: number[]; concurrency: number }
  | { id: number; cmd: "join"; ids: number[]; room: string; concurrency: number }
  | { id: number; cmd: "groupchat"; sender: number; room: string; messages: number; tag: string }
  | { id: number; cmd: "logout"; ids: number[]; concurrency: number }
  | { id: number; cmd: "close" };

const roomOf = (id: number) => `r${id}@${MUC}`;

async function worker(timeoutMs: number): Promise<void> {
  const clients = new Map<number, BenchClient>();
  const watches = new Map<string, { all: string[]; count: number }>();
  const onStanza = (raw: string) => {
    for (const watch of watches.values()) {
      if (watch.all.every((part) => raw.includes(part))) watch.count++;
    }
  };
  const bench: Bench = {
    options: { timeoutMs, concurrency: 1, domain: DOMAIN },
    host: "127.0.0.1",
    port: 0,
    ticks: 100,
    clients: [],
    aborted: false,
  };
  const client = (id: number) => {
    const found = clients.get(id);
    if (found === undefined) throw new Error(`no session scale${id} in this worker`);
    return found;
  };
  const handle = async (request: Request): Promise<Record<string, unknown>> => {
    switch (request.cmd) {
      case "login": {
        let failed = 0;
        let first: string | undefined;
        const durations: number[] = [];
        await pool(bench, request.ids.length, request.concurrency, async (i) => {
          const id = request.ids[i];
          const session = new BenchClient();
          session.onStanza = onStanza;
          const started = performance.now();
          try {
            await session.login({
              host: "127.0.0.1",
              port: request.port,
              domain: DOMAIN,
              username: `scale${id}`,
              password: PASSWORD,
              mechanism: "SCRAM-SHA-1",
              resource: RESOURCE,
              timeoutMs,
              localAddress: `127.0.0.${1 + id % request.addresses}`,
            });
            clients.set(id, session);
            durations.push(performance.now() - started);
          } catch (error) {
            failed++;
            first ??= error instanceof Error ? error.message : String(error);
          }
        });
        return { failed, first, durations: durations.map((d) => Math.round(d)) };
      }
      case "logout":
        // Closes the stream and waits until the server has closed its side.
        await pool(bench, request.ids.length, request.concurrency, async (i) => {
          const session = client(request.ids[i]);
          const closed = session.waitFor(() => false, timeoutMs, "the server's close")
            .then(() => {}, () => {});
          session.send("</stream:stream>");
          await closed;
          if (session.closeReason === undefined) throw new Error("the server did not close");
          clients.delete(request.ids[i]);
        });
        return {};
      case "watch":
        watches.set(request.name, { all: request.all, count: 0 });
        return {};
      case "counts": {
        const lost = [...clients.values()].filter((c) => c.closeReason !== undefined);
        return {
          counts: Object.fromEntries([...watches].map(([name, { count }]) => [name, count])),
          lost: lost.length,
          lostReason: lost[0]?.closeReason,
        };
      }
      case "rooms":
        await pool(bench, request.ids.length, request.concurrency, async (i) => {
          const id = request.ids[i];
          const { created } = await enter(client(id), roomOf(id), `u${id}`, timeoutMs);
          if (!created) throw new Error(`room ${roomOf(id)} existed already`);
          await configureInstantRoom(client(id), roomOf(id), timeoutMs);
        });
        return {};
      case "room-messages":
        await pool(bench, request.ids.length, request.concurrency, async (i) => {
          const id = request.ids[i];
          const session = client(id);
          const tag = `<body>room message ${id}<`;
          const echoed = session.waitFor(
            (raw) => raw.startsWith("<message") && raw.includes(tag),
            timeoutMs,
            `the echo of the message to ${roomOf(id)}`,
          );
          session.send(
            `<message to='${
              roomOf(id)
            }' type='groupchat'><body>room message ${id}</body></message>`,
          );
          await echoed;
        });
        return {};
      case "join": {
        let created = false;
        await pool(bench, request.ids.length, request.concurrency, async (i) => {
          const id = request.ids[i];
          const entered = await enter(client(id), request.room, `u${id}`, timeoutMs);
          if (entered.created) {
            created = true;
            await configureInstantRoom(client(id), request.room, timeoutMs);
          }
        });
        return { created };
      }
      case "groupchat": {
        const sender = client(request.sender);
        const prefix = `<body>${request.tag} `;
        let sent = 0;
        let echoed = 0;
        const room = escapeAttr(request.room);
        await new Promise<void>((resolve, reject) => {
          const pump = () => {
            while (sent < request.messages && sent - echoed < FANOUT_WINDOW) {
              sender.send(
                `<message to='${room}' type='groupchat'>${prefix}${sent++} the quick brown ` +
                  `fox jumps over the lazy dog</body></message>`,
              );
            }
          };
          const timer = setTimeout(
            () => reject(new Error(`only ${echoed} of ${request.messages} groupchat echoes`)),
            timeoutMs,
          );
          sender.onStanza = (raw) => {
            onStanza(raw);
            if (!raw.startsWith("<message") || !raw.includes(prefix)) return;
            if (++echoed === request.messages) {
              clearTimeout(timer);
              sender.onStanza = onStanza;
              resolve();
            } else pump();
          };
          pump();
        });
        return {};
      }
      case "close":
        for (const session of clients.values()) session.close();
        clients.clear();
        return {};
    }
  };
  const say = (message: unknown) => console.log(JSON.stringify(message));
  for await (const line of lines(Deno.stdin.readable)) {
    const request = JSON.parse(line) as Request;
    handle(request).then(
      (result) => say({ id: request.id, ...result }),
      (error) =>
        say({ id: request.id, error: error instanceof Error ? error.message : `${error}` }),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Parent side: the workers as remote objects.

type Command = Request extends infer R ? R extends { id: number } ? Omit<R, "id"> : never
  : never;

class Worker {
  readonly pid: number;
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #pending = new Map<number, (answer: Record<string, unknown>) => void>();
  #ids = 0;
  #done: Promise<void>;

  constructor(timeoutMs: number) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...SCRIPT_PERMISSIONS, SELF, "--worker", String(timeoutMs)],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#child = child;
    this.pid = child.pid;
    this.#writer = child.stdin.getWriter();
    this.#done = (async () => {
      for await (const line of lines(child.stdout)) {
        const answer = JSON.parse(line);
        this.#pending.get(answer.id)?.(answer);
        this.#pending.delete(answer.id);
      }
      for (const resolve of this.#pending.values()) resolve({ error: "worker exited" });
    })();
  }

  /** Sends a command; resolves with the answer, rejects with the worker's error. */
  async call(command: Command): Promise<Record<string, unknown>> {
    const id = ++this.#ids;
    const answer = new Promise<Record<string, unknown>>((resolve) =>
      this.#pending.set(id, resolve)
    );
    await this.#writer.write(new TextEncoder().encode(JSON.stringify({ id, ...command }) + "\n"));
    const result = await answer;
    if (typeof result.error === "string") {
      throw new Error(`worker ${this.pid}: ${command.cmd}: ${result.error}`);
    }
    return result;
  }

  async stop(): Promise<void> {
    await this.call({ cmd: "close" }).catch(() => {});
    await this.#writer.close().catch(() => {});
    await this.#done;
    await this.#child.status;
  }
}

/** Session `id` (1-based) lives in worker `(id - 1) mod workers`. */
function byWorker(workers: Worker[], ids: number[]): Map<Worker, number[]> {
  const shares = new Map<Worker, number[]>();
  for (const id of ids) {
    const w = workers[(id - 1) % workers.length];
    if (!shares.has(w)) shares.set(w, []);
    shares.get(w)!.push(id);
  }
  return shares;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

interface Run {
  options: Options;
  server: BenchServer;
  workers: Worker[];
  ticks: number;
  dataDir: string;
  plans: Map<number, RosterPlan>;
  print(line: string): void;
}

/** Server and generator (this process and the workers) CPU time at one moment. */
interface Snap {
  at: number;
  server: number;
  generator: number;
}

async function snap(run: Run): Promise<Snap> {
  const before = performance.now();
  const [server, ...generator] = await Promise.all([
    cpuMs(run.server.pid, run.ticks),
    cpuMs(Deno.pid, run.ticks),
    ...run.workers.map((w) => cpuMs(w.pid, run.ticks)),
  ]);
  return {
    at: (before + performance.now()) / 2,
    server,
    generator: generator.reduce((a, b) => a + b, 0),
  };
}

function between(from: Snap, to: Snap) {
  const wallMs = to.at - from.at;
  return {
    wallMs: round(wallMs, 0),
    serverCpuMs: round(to.server - from.server, 0),
    serverBusy: round((to.server - from.server) / wallMs, 2),
    generatorBusy: round((to.generator - from.generator) / wallMs, 2),
  };
}

/** Runs `command` on every worker holding some of `ids`, each with its share. */
async function onWorkers(
  run: Run,
  ids: number[],
  command: (share: number[]) => Command,
): Promise<Record<string, unknown>[]> {
  return await Promise.all(
    [...byWorker(run.workers, ids)].map(([w, share]) => w.call(command(share))),
  );
}

/** Sets a counter on every worker: stanzas containing all of `all`. */
async function watch(run: Run, name: string, all: string[]): Promise<void> {
  await Promise.all(run.workers.map((w) => w.call({ cmd: "watch", name, all })));
}

/** The sum of a counter over the workers, and sessions lost. */
async function counted(run: Run, name: string): Promise<{ count: number; lost: number }> {
  const answers = await Promise.all(run.workers.map((w) => w.call({ cmd: "counts" })));
  let total = 0;
  let lost = 0;
  for (const answer of answers) {
    total += (answer.counts as Record<string, number>)[name] ?? 0;
    lost += answer.lost as number;
  }
  return { count: total, lost };
}

/** Waits until counter `name` reaches `expected`; false after `stallMs` without progress. */
async function until(run: Run, name: string, expected: number, stallMs = 10_000) {
  let last = -1;
  let progressAt = performance.now();
  while (true) {
    const { count } = await counted(run, name);
    if (count >= expected) return { count, complete: true, at: performance.now() };
    if (count !== last) {
      last = count;
      progressAt = performance.now();
    } else if (performance.now() - progressAt > stallMs) {
      return { count, complete: false, at: performance.now() };
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function block(title: string, header: string[], rows: (string | number)[][]): string {
  const all = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? "").length)));
  const line = (row: string[]) => "  " + row.map((cell, i) => cell.padStart(widths[i])).join("  ");
  return `\n${title}\n${all.map(line).join("\n")}`;
}

const mib = (kib: number) => (kib / 1024).toFixed(1);
const ratio = (a: number, b: number) => round(a / b, 2);

// ---------------------------------------------------------------------------------------------
// Phase 1: sessions

async function sessionsPhase(run: Run) {
  const { options } = run;
  const batchSize = Math.ceil(options.sessions / options.batches);
  const rssStart = await rssKiB(run.server.pid);
  const batches = [];
  const header = [
    "sessions",
    "logins/s",
    "CPU/login",
    "server",
    "gen.",
    "login p50/max",
    "RSS",
    "RSS/session",
  ];
  const widths = [8, 8, 9, 6, 5, 15, 11, 11];
  const line = (cells: (string | number)[]) =>
    "  " + cells.map((cell, i) => String(cell).padStart(widths[i])).join("  ");
  // Printed as the batches end: a run that fails half-way still shows how far it got.
  run.print(
    `\n1 sessions: ${options.sessions} logins (STARTTLS + SCRAM-SHA-1 + bind + presence + ` +
      `ping), ${options.batches} batches, ${options.workers} workers x ${options.concurrency} ` +
      `at once, from 127.0.0.1..${options.addresses}`,
  );
  run.print(line(header));
  for (let from = 1; from <= options.sessions; from += batchSize) {
    const to = Math.min(options.sessions, from + batchSize - 1);
    const start = await snap(run);
    const answers = await onWorkers(run, range(from, to), (ids) => ({
      cmd: "login",
      ids,
      port: run.server.port,
      concurrency: options.concurrency,
      addresses: options.addresses,
    }));
    const end = await snap(run);
    const rss = await rssKiB(run.server.pid);
    const failed = answers.reduce((sum, a) => sum + (a.failed as number), 0);
    const first = answers.find((a) => a.first !== undefined)?.first;
    const used = between(start, end);
    const logins = to - from + 1;
    const durations = answers.flatMap((a) => a.durations as number[]).sort((a, b) => a - b);
    const b = {
      sessions: to,
      loginsPerSecond: round(logins / (used.wallMs / 1000), 0),
      serverCpuMsPerLogin: round(used.serverCpuMs / logins, 2),
      loginMsP50: round(durations[Math.floor(durations.length / 2)] ?? NaN, 0),
      loginMsMax: round(durations[durations.length - 1] ?? NaN, 0),
      rssKiB: rss,
      rssKiBPerSession: round((rss - rssStart) / to, 1),
      failed,
      firstFailure: first,
      ...used,
    };
    batches.push(b);
    run.print(line([
      b.sessions,
      b.loginsPerSecond,
      `${b.serverCpuMsPerLogin} ms`,
      `${Math.round(b.serverBusy * 100)} %`,
      `${Math.round(b.generatorBusy * 100)} %`,
      `${b.loginMsP50}/${b.loginMsMax} ms`,
      `${mib(b.rssKiB)} MiB`,
      `${b.rssKiBPerSession} KiB`,
    ]));
    if (failed > 0) throw new Error(`${failed} logins failed, first: ${first}`);
  }

  const [b0, bn] = [batches[Math.min(1, batches.length - 1)], batches[batches.length - 1]];
  run.print(
    `  last batch vs second (the first also warms up): logins/s x${
      ratio(bn.loginsPerSecond, b0.loginsPerSecond)
    }, CPU per login x${ratio(bn.serverCpuMsPerLogin, b0.serverCpuMsPerLogin)} ` +
      "(linear: x1; the rate is wall clock on a shared machine, CPU per login is the firmer)",
  );

  // Idle: nothing is sent; a server without per-session timers uses no CPU. In slices, so that
  // a one-off (the garbage collector finishing after the logins) shows apart from a steady cost.
  const slices = Math.max(1, Math.round(options.idleSeconds / 5));
  const idleStart = await snap(run);
  const idleSlices: number[] = [];
  let sliceStart = idleStart;
  for (let i = 0; i < slices; i++) {
    await new Promise((resolve) => setTimeout(resolve, options.idleSeconds * 1000 / slices));
    const sliceEnd = await snap(run);
    idleSlices.push(round(sliceEnd.server - sliceStart.server, 0));
    sliceStart = sliceEnd;
  }
  const idle = between(idleStart, sliceStart);
  const idleCpuPercent = round(100 * idle.serverCpuMs / idle.wallMs, 2);

  // The status line, both ways: SIGUSR2 (logged) and the admin socket (`verona status`), a few
  // times each.
  const signalMs: number[] = [];
  const socketMs: number[] = [];
  let signalLine: string | undefined;
  let status: ServerStatus | undefined;
  for (let i = 0; i < 3; i++) {
    const asked = new Date().toISOString();
    const t0 = performance.now();
    Deno.kill(run.server.pid, "SIGUSR2");
    signalLine = undefined;
    while (signalLine === undefined && performance.now() - t0 < 10_000) {
      signalLine = [...run.server.stderr().matchAll(/^(\S+) (status: .*)$/gm)]
        .findLast((line) => line[1] >= asked)?.[2];
      if (signalLine === undefined) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    signalMs.push(round(performance.now() - t0, 1));
    const t1 = performance.now();
    status = await askServer(join(run.dataDir, ADMIN_SOCKET_NAME), "status") as
      | ServerStatus
      | undefined;
    socketMs.push(round(performance.now() - t1, 1));
  }
  const perAddress = Object.entries(status?.connectionsPerAddress ?? {})
    .map(([address, n]) => `${address} ${n}`).join(", ");
  run.print(
    `  idle ${round(idle.wallMs / 1000, 1)} s with ${options.sessions} sessions: server CPU ` +
      `${idle.serverCpuMs} ms = ${idleCpuPercent} % of a core (per ${
        options.idleSeconds / slices
      } s: ${idleSlices.join(", ")} ms)`,
  );
  run.print(`  SIGUSR2 status line after ${signalMs.join(", ")} ms: ${signalLine ?? "none"}`);
  run.print(
    `  admin socket status (verona status) in ${socketMs.join(", ")} ms: ${
      status ? statusLine(status) : "no answer"
    }`,
  );
  run.print(`  connections per address: ${perAddress}`);
  return {
    batches,
    idle: { ...idle, idleCpuPercent, idleSlices },
    signalMs,
    socketMs,
    status,
  };
}

// ---------------------------------------------------------------------------------------------
// Phase 2: big rosters

/** Who is in the roster of `star<R>`: session ids (online) and offline account names. */
interface RosterPlan {
  online: number[];
  offline: string[];
}

/**
 * The contacts of each big-roster account, disjoint: star<R> for the first R gets sessions
 * 1..0.9R and accounts offline1..0.1R, the next the sessions and accounts after those, and so on;
 * star0 has none. Each session is in at most one big roster.
 */
function planRosters(sizes: number[]): Map<number, RosterPlan> {
  const plans = new Map<number, RosterPlan>([[0, { online: [], offline: [] }]]);
  let sessions = 0;
  let offline = 0;
  for (const r of sizes) {
    const online = Math.round(r * ONLINE_SHARE);
    plans.set(r, {
      online: range(sessions + 1, sessions + online),
      offline: range(offline + 1, offline + r - online).map((i) => `offline${i}`),
    });
    sessions += online;
    offline += r - online;
  }
  return plans;
}

/** Sessions of each group that log out and in again while their big-roster contact is offline. */
const RELOGINS = 200;

interface RosterRow {
  contacts: number;
  online: number;
  presencesToContacts: number;
  presencesToStar: number;
  loginMs: number;
  loginCpuMs: number;
  unavailableToContacts: number;
  logoutMs: number;
  logoutCpuMs: number;
}

async function rosterPhase(run: Run) {
  const rows: RosterRow[] = [];
  // star0 has an empty roster: its login and logout are the cost without any contact.
  for (const r of [0, ...run.options.rosters]) {
    const online = run.plans.get(r)!.online.length;
    const jid = `star${r}@${DOMAIN}/${RESOURCE}`;
    // CPU time is read in clock ticks (10 ms): several rounds, summed, give a usable figure.
    const total = { loginMs: 0, loginCpuMs: 0, logoutMs: 0, logoutCpuMs: 0 };
    let presencesToContacts = 0;
    let presencesToStar = 0;
    let unavailableToContacts = 0;
    for (let round = 0; round < ROSTER_ROUNDS; round++) {
      await watch(run, `p${r}`, [`from='${jid}'`]);
      const star = new BenchClient();
      star.onStanza = (raw) => {
        if (raw.startsWith("<presence")) presencesToStar++;
      };
      const start = await snap(run);
      await star.login({
        host: "127.0.0.1",
        port: run.server.port,
        domain: DOMAIN,
        username: `star${r}`,
        password: PASSWORD,
        mechanism: "SCRAM-SHA-1",
        resource: RESOURCE,
        timeoutMs: run.options.timeoutMs,
      });
      const loggedIn = performance.now();
      const on = await until(run, `p${r}`, online);
      const end = await snap(run);
      presencesToContacts += on.count;
      total.loginMs += Math.max(loggedIn, on.at) - start.at;
      total.loginCpuMs += end.server - start.server;

      await watch(run, `u${r}`, [`from='${jid}'`, "type='unavailable'"]);
      const out = await snap(run);
      star.send("</stream:stream>");
      const off = await until(run, `u${r}`, online);
      const gone = await snap(run);
      star.close();
      unavailableToContacts += off.count;
      total.logoutMs += off.at - out.at;
      total.logoutCpuMs += gone.server - out.server;
    }
    const mean = (value: number, digits = 1) => round(value / ROSTER_ROUNDS, digits);
    rows.push({
      contacts: r,
      online,
      presencesToContacts: mean(presencesToContacts, 0),
      presencesToStar: mean(presencesToStar, 0),
      loginMs: mean(total.loginMs),
      loginCpuMs: mean(total.loginCpuMs),
      unavailableToContacts: mean(unavailableToContacts, 0),
      logoutMs: mean(total.logoutMs),
      logoutCpuMs: mean(total.logoutCpuMs),
    });
  }
  const base = rows[0];
  const relogins = [];
  for (const [r, plan] of run.plans) {
    // R = 0: sessions in no big roster (the last ones), the cost of a plain logout and login.
    const ids = r === 0
      ? range(run.options.sessions - RELOGINS + 1, run.options.sessions)
      : plan.online.slice(0, RELOGINS);
    const start = await snap(run);
    await onWorkers(run, ids, (share) => ({
      cmd: "logout",
      ids: share,
      concurrency: run.options.concurrency,
    }));
    const middle = await snap(run);
    const answers = await onWorkers(run, ids, (share) => ({
      cmd: "login",
      ids: share,
      port: run.server.port,
      concurrency: run.options.concurrency,
      addresses: run.options.addresses,
    }));
    const end = await snap(run);
    const failed = answers.reduce((sum, a) => sum + (a.failed as number), 0);
    if (failed > 0) throw new Error(`${failed} logins failed, first: ${answers[0].first}`);
    relogins.push({
      contacts: r,
      sessions: ids.length,
      serverCpuMsPerLogout: round((middle.server - start.server) / ids.length, 2),
      serverCpuMsPerLogin: round((end.server - middle.server) / ids.length, 2),
    });
  }
  const perContact = (cpu: number, baseCpu: number, r: number) =>
    r === 0 ? "-" : `${round((cpu - baseCpu) * 1000 / r, 1)} µs`;
  run.print(block(
    `2 rosters: an account with R contacts (${ONLINE_SHARE * 100} % online, subscriptions both ` +
      "ways) logs in (login + initial presence: broadcast and probes) and closes its stream " +
      `(unavailable broadcast); mean of ${ROSTER_ROUNDS} rounds, R = 0 is the login alone`,
    [
      "R",
      "to contacts",
      "answers",
      "login ms",
      "login CPU",
      "per contact",
      "logout ms",
      "logout CPU",
      "per contact",
    ],
    rows.map((row) => [
      row.contacts,
      `${row.presencesToContacts}/${row.online}`,
      row.presencesToStar,
      row.loginMs,
      `${row.loginCpuMs} ms`,
      perContact(row.loginCpuMs, base.loginCpuMs, row.contacts),
      row.logoutMs,
      `${row.logoutCpuMs} ms`,
      perContact(row.logoutCpuMs, base.logoutCpuMs, row.contacts),
    ]),
  ));
  run.print(
    block(
      `  and ${RELOGINS} of their contacts log out and in again while it is offline ` +
        "(each then presents itself to it and probes it); R = 0: sessions with empty rosters",
      ["R", "CPU/logout", "CPU/login"],
      relogins.map((row) => [
        row.contacts,
        `${row.serverCpuMsPerLogout} ms`,
        `${row.serverCpuMsPerLogin} ms`,
      ]),
    ).slice(1),
  );
  if (rows.length > 2) {
    const at = (row: RosterRow) => ({
      login: (row.loginCpuMs - base.loginCpuMs) / row.contacts,
      logout: (row.logoutCpuMs - base.logoutCpuMs) / row.contacts,
    });
    const [small, big] = [at(rows[1]), at(rows[rows.length - 1])];
    run.print(
      `  CPU per contact, R = ${rows[rows.length - 1].contacts} vs ${rows[1].contacts}: ` +
        `login x${ratio(big.login, small.login)}, logout x${ratio(big.logout, small.logout)} ` +
        "(linear: x1)",
    );
  }
  return { rows, relogins };
}

// ---------------------------------------------------------------------------------------------
// Phase 3: many rooms

async function roomsPhase(run: Run) {
  const { options } = run;
  const batchSize = Math.ceil(options.rooms / 5);
  const rssStart = await rssKiB(run.server.pid);
  const created = [];
  for (let from = 1; from <= options.rooms; from += batchSize) {
    const to = Math.min(options.rooms, from + batchSize - 1);
    const start = await snap(run);
    await onWorkers(run, range(from, to), (ids) => ({
      cmd: "rooms",
      ids,
      concurrency: options.concurrency,
    }));
    const end = await snap(run);
    const rss = await rssKiB(run.server.pid);
    const used = between(start, end);
    created.push({
      rooms: to,
      perSecond: round((to - from + 1) / (used.wallMs / 1000), 0),
      serverCpuMsPerRoom: round(used.serverCpuMs / (to - from + 1), 2),
      rssKiB: rss,
      rssKiBPerRoom: round((rss - rssStart) / to, 1),
      ...used,
    });
  }
  const messages: {
    rooms: number;
    perSecond: number;
    serverCpuMsPerMessage: number;
    serverBusy: number;
    generatorBusy: number;
  }[] = [];
  for (let from = 1; from <= options.rooms; from += batchSize) {
    const to = Math.min(options.rooms, from + batchSize - 1);
    const start = await snap(run);
    await onWorkers(run, range(from, to), (ids) => ({
      cmd: "room-messages",
      ids,
      concurrency: options.concurrency,
    }));
    const end = await snap(run);
    const used = between(start, end);
    messages.push({
      rooms: to,
      perSecond: round((to - from + 1) / (used.wallMs / 1000), 0),
      serverCpuMsPerMessage: round(used.serverCpuMs / (to - from + 1), 2),
      ...used,
    });
  }
  run.print(block(
    `3 rooms: ${options.rooms} rooms, each created (enter + instant-room form) by its own ` +
      "session, then one groupchat message in each (archived, echoed to its one occupant)",
    [
      "rooms",
      "created/s",
      "CPU/room",
      "RSS",
      "RSS/room",
      "messages/s",
      "CPU/message",
      "server",
      "gen.",
    ],
    created.map((c, i) => [
      c.rooms,
      c.perSecond,
      `${c.serverCpuMsPerRoom} ms`,
      `${mib(c.rssKiB)} MiB`,
      `${c.rssKiBPerRoom} KiB`,
      messages[i].perSecond,
      `${messages[i].serverCpuMsPerMessage} ms`,
      `${Math.round(c.serverBusy * 100)}/${Math.round(messages[i].serverBusy * 100)} %`,
      `${Math.round(c.generatorBusy * 100)}/${Math.round(messages[i].generatorBusy * 100)} %`,
    ]),
  ));
  if (created.length > 1) {
    const [c0, cn] = [created[0], created[created.length - 1]];
    const [m0, mn] = [messages[0], messages[messages.length - 1]];
    run.print(
      `  last batch vs first: CPU per room x${
        ratio(cn.serverCpuMsPerRoom, c0.serverCpuMsPerRoom)
      }, CPU per message x${ratio(mn.serverCpuMsPerMessage, m0.serverCpuMsPerMessage)} ` +
        "(linear: x1)",
    );
  }
  return { created, messages };
}

// ---------------------------------------------------------------------------------------------
// Phase 4: a big room

async function bigRoomPhase(run: Run) {
  const { options } = run;
  const room = `big@${MUC}`;
  // The last sessions, apart from the rooms of phase 3 when there are enough.
  const ids = range(options.sessions - options.roomSize + 1, options.sessions);
  const [first] = await onWorkers(run, ids.slice(0, 1), (share) => ({
    cmd: "join",
    ids: share,
    room,
    concurrency: 1,
  }));
  if (first.created !== true) throw new Error(`${room} existed already`);
  const joins = [];
  let inRoom = 1;
  for (let from = 1; from < ids.length; from += JOIN_BATCH) {
    const batch = ids.slice(from, from + JOIN_BATCH);
    const start = await snap(run);
    await onWorkers(run, batch, (share) => ({
      cmd: "join",
      ids: share,
      room,
      concurrency: options.concurrency,
    }));
    const end = await snap(run);
    // Entering a room of n: n presences to the newcomer, its presence to the n others, its own
    // presence (110) and the subject: 2n + 2 stanzas.
    let deliveries = 0;
    for (let k = 0; k < batch.length; k++) deliveries += 2 * (inRoom + k) + 2;
    inRoom += batch.length;
    const used = between(start, end);
    joins.push({
      occupants: inRoom,
      joins: batch.length,
      deliveries,
      serverCpuMsPerJoin: round(used.serverCpuMs / batch.length, 2),
      serverCpuUsPerDelivery: round(used.serverCpuMs * 1000 / deliveries, 2),
      ...used,
    });
  }
  const tag = "bigfan";
  await watch(run, tag, [`<body>${tag} `]);
  const expected = ids.length * options.roomMessages;
  const start = await snap(run);
  const sending = onWorkers(run, ids.slice(0, 1), (share) => ({
    cmd: "groupchat",
    sender: share[0],
    room,
    messages: options.roomMessages,
    tag,
  }));
  const delivered = await until(run, tag, expected);
  await sending;
  const end = await snap(run);
  const used = { ...between(start, end), wallMs: round(delivered.at - start.at, 0) };
  const fanout = {
    occupants: ids.length,
    messages: options.roomMessages,
    deliveries: delivered.count,
    expected,
    deliveriesPerSecond: round(delivered.count / (used.wallMs / 1000), 0),
    serverCpuUsPerDelivery: round(used.serverCpuMs * 1000 / delivered.count, 2),
    ...used,
  };
  run.print(block(
    `4 big room: ${room} filled to ${ids.length} occupants, ${JOIN_BATCH} joins at a time ` +
      `(${options.concurrency} per worker at once); each join is 2n + 2 stanzas in a room of n`,
    ["occupants", "CPU/join", "deliveries", "CPU/delivery", "server", "gen."],
    joins.map((j) => [
      j.occupants,
      `${j.serverCpuMsPerJoin} ms`,
      j.deliveries,
      `${j.serverCpuUsPerDelivery} µs`,
      `${Math.round(j.serverBusy * 100)} %`,
      `${Math.round(j.generatorBusy * 100)} %`,
    ]),
  ));
  run.print(
    `  fan-out: ${fanout.messages} messages to ${fanout.occupants} occupants, ` +
      `${FANOUT_WINDOW} in flight: ${fanout.deliveries} of ${expected} delivered, ` +
      `${fanout.deliveriesPerSecond}/s, server CPU ${fanout.serverCpuUsPerDelivery} µs per ` +
      `delivery (server ${Math.round(used.serverBusy * 100)} %, generator ` +
      `${Math.round(used.generatorBusy * 100)} %)`,
  );
  if (joins.length > 1) {
    const [j0, jn] = [joins[0], joins[joins.length - 1]];
    run.print(
      `  last ${JOIN_BATCH} joins vs first: CPU per join x${
        ratio(jn.serverCpuMsPerJoin, j0.serverCpuMsPerJoin)
      } (O(n) by protocol: each join tells everyone), CPU per delivery x${
        ratio(jn.serverCpuUsPerDelivery, j0.serverCpuUsPerDelivery)
      } (linear: x1)`,
    );
  }
  return { joins, fanout };
}

// ---------------------------------------------------------------------------------------------
// Setup and teardown

export async function main(args: string[]): Promise<number> {
  const fileLimit = await openFileLimit();
  const opts = optionsOrExit(() => parseOptions(args, fileLimit), USAGE);
  if (typeof opts === "number") return opts;
  const print = (line: string) => {
    if (!opts.json) console.log(line);
  };
  const report: Record<string, unknown> = { options: { ...opts, json: undefined } };
  print("Verona scale benchmark");
  print(
    `sessions: ${opts.sessions}${
      opts.sessions < DESIGN_SESSIONS
        ? ` (designed for ${DESIGN_SESSIONS}; this machine caps open files at ${opts.fileLimit} ` +
          `per process, so one server process holds at most ${opts.fileLimit - FD_HEADROOM} ` +
          "sessions here)"
        : ""
    }, ${opts.workers} worker processes of up to ${Math.ceil(opts.sessions / opts.workers)}`,
  );

  const dataDir = await Deno.makeTempDir({ prefix: "verona-scale-" });
  let server: BenchServer | undefined;
  const workers: Worker[] = [];
  let failure: unknown;
  try {
    const t0 = performance.now();
    const plans = planRosters(opts.rosters);
    const rosters: BenchRoster[] = [...plans].map(([r, plan]) => ({
      owner: `star${r}`,
      contacts: [...plan.online.map((i) => `scale${i}`), ...plan.offline],
    }));
    await createScaleData(dataDir, {
      names: [
        ...range(1, opts.sessions).map((i) => `scale${i}`),
        ...[...plans.values()].flatMap((plan) => plan.offline),
        ...rosters.map((roster) => roster.owner),
      ],
      password: PASSWORD,
      domain: DOMAIN,
      rosters,
    });
    print(
      `data: ${opts.sessions} accounts scale1..${opts.sessions}, rosters of ` +
        `${[0, ...opts.rosters].join(", ")} for star0.. (${Math.round(performance.now() - t0)} ms)`,
    );
    const configPath = join(dataDir, "verona.toml");
    await Deno.writeTextFile(
      configPath,
      `[limits]\nmax_connections = ${opts.sessions + 1000}\n` +
        `max_connections_per_ip = ${opts.sessions + 1000}\n` +
        // The generator floods by design: no input shaping for it.
        `c2s_rate_bytes = 1000000000000\nc2s_burst_bytes = 1000000000000\n` +
        // Past half of max_connections, a login must finish within this (default 10 s); the
        // generator logs in by the thousand on a shared machine, so it gets the normal 60 s.
        `pressure_negotiation_timeout_ms = 60000\n`,
    );
    const canPin = onPath("taskset") && navigator.hardwareConcurrency >= 2;
    server = await spawnServer({
      args: ["--domain", DOMAIN, "--data", dataDir, "--config", configPath],
      pinCpus: canPin ? "0" : undefined,
      startTimeoutMs: 30_000,
    });
    for (let i = 0; i < opts.workers; i++) workers.push(new Worker(opts.timeoutMs));
    const pinned = canPin &&
      (await Promise.all(
        [Deno.pid, ...workers.map((w) => w.pid)].map((pid) => pinProcess(pid, "1")),
      )).every(Boolean);
    print(
      `server: pid ${server.pid}, port ${server.port}; ${
        canPin
          ? `server on CPU 0, generator (${opts.workers} workers) ${
            pinned ? "on CPU 1" : "NOT pinned"
          }`
          : "NOT pinned"
      }; config ${configPath}`,
    );
    const run: Run = {
      options: opts,
      server,
      workers,
      ticks: await clockTicks(),
      dataDir,
      plans,
      print,
    };
    report.sessions = await sessionsPhase(run);
    if (opts.rosters.length > 0) report.rosters = await rosterPhase(run);
    if (opts.rooms > 0) report.rooms = await roomsPhase(run);
    if (opts.roomSize > 0) report.bigRoom = await bigRoomPhase(run);
    const { lost } = await counted(run, "none");
    if (lost > 0) throw new Error(`${lost} sessions lost their connection`);
  } catch (error) {
    failure = error;
    report.error = error instanceof Error ? error.message : String(error);
  } finally {
    if (server !== undefined) {
      const stopped = await server.stop(30_000);
      report.serverStop = { ...stopped, ms: round(stopped.ms, 0) };
      print(
        `\nserver stopped with its sessions connected in ${round(stopped.ms, 0)} ms, exit code ` +
          `${stopped.code}${stopped.killed ? " (KILLED)" : ""}`,
      );
      const errors = server.logKinds().filter(([kind]) => /error|refused|fail/i.test(kind));
      for (const [kind, n] of errors.slice(0, 10)) print(`  ${String(n).padStart(7)}  ${kind}`);
    }
    await Promise.all(workers.map((w) => w.stop()));
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
  if (failure !== undefined) console.error(`\nerror: ${report.error}`);
  if (opts.json) console.log(JSON.stringify(report));
  return failure === undefined ? 0 : 1;
}

if (import.meta.main) {
  if (Deno.args[0] === "--worker") await worker(Number(Deno.args[1]));
  else Deno.exit(await main(Deno.args));
}
