// Load benchmark: logins, 1:1 chat, PEP event fan-out (tests/bench/_pep_phase.ts), MUC joins
// and groupchat fan-out against a Verona server it
// starts (pinned to CPU 0, with CPU time read from /proc) or against any running XMPP server.
// Measured the way server comparisons usually are: STARTTLS +
// SCRAM-SHA-1, server on one core, this load generator on the other.
//
//   deno task bench                      # defaults: 500 clients, 100 chat pairs, rooms of 50, 500
//   deno task bench --chat-to bare --chat-pairs 250 --chat-window 1   # 1:1 chat variants
//   deno task bench --json               # one JSON line only
//   deno task bench --host H --port P --password PW   # accounts bench1..benchN must exist
import { optionsOrExit, UsageError } from "./_cli.ts";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { escapeAttr } from "../../lib/xml/mod.ts";
import { createAccounts } from "./_accounts.ts";
import { BENCH_MECHANISMS, BenchClient, type BenchMechanism } from "./_bench_client.ts";
import { type BenchServer, spawnServer } from "./_server.ts";
import { pepPhase, type PepResult } from "./_pep_phase.ts";
import { configureInstantRoom, enter } from "./_muc_client.ts";
import {
  type Bench as PhaseBench,
  type DeliveryFigures,
  deliveryFigures,
  pool,
  round,
  sample,
  SATURATED,
  serverRss,
  timeDeliveries,
  usage,
  withinPhase,
} from "./_phase.ts";
import { clockTicks, cpuQuiet, onPath, pinProcess } from "./_proc.ts";

const USAGE = `Usage: deno task bench [options]

Load benchmark of an XMPP server: N clients log in; pairs of them chat 1:1 (one
sender per pair); one publishes PEP tunes to K contacts whose caps ask for them
(+notify); all join one room, then one occupant sends groupchat messages to rooms of
the given sizes. Every delivery is timed.

By default it creates accounts bench1..benchN in a temporary data directory, starts
Verona there (pinned to CPU 0 with taskset when available; this generator then runs
on the other CPUs) and reports the server's CPU time per login and per delivery.
With --host/--port it targets a running server instead (accounts must exist).

Options:
  --clients N        clients and accounts bench1..benchN (default: largest --occupants,
                     or --pep-contacts + 1 if more)
  --occupants LIST   room sizes for the fan-out phase (default: 50,500); 0 skips the
                     joins and the fan-out (for a server without MUC)
  --messages LIST    messages per room size, one value or one per size
                     (default: 100000 deliveries per size, 100..2000 messages)
  --window N         unacknowledged messages the sender may have in flight (default: 20)
  --chat-pairs N     sender/receiver pairs in the 1:1 chat phase, 0 to skip it
                     (default: 100, at most half of --clients)
  --chat-messages N  messages each chat sender sends (default: 100000 deliveries in all)
  --chat-window N    unacknowledged messages per chat sender (default: 10); a message
                     counts as acknowledged when its receiver has it
  --chat-to LIST     how chat messages are addressed: full (bind result), bare, or
                     both as full,bare, one chat phase each (default: full,bare)
  --pep-contacts N   contacts (mutual presence subscriptions, made before the timed
                     part) of the PEP publisher, 0 to skip the phase (default: 500,
                     at most --clients - 1)
  --pep-publishes N  timed publishes (default: 100000 deliveries in all)
  --pep-window N     publishes not yet received by every contact that may be in
                     flight (default: 4)
  --concurrency N    logins and joins in progress at once (default: 16)
  --warmup-logins N  before the timed logins, N logins (accounts bench1..benchN) that are
                     closed again, so that the timed ones meet a warm server: compiled
                     code and caches, as after any time in service; their CPU per login
                     is reported too, as the cold figure (default: 0)
  --resume-tls       the timed logins resume the TLS session (ticket) of the warm-up
                     login of the same account, as a returning client does; how many the
                     server resumed is reported (needs --warmup-logins)
  --mechanism M      SCRAM-SHA-1 (default), SCRAM-SHA-256 or PLAIN
  --password PW      password of every bench account (default: bench-password)
  --host H           target a running server at H instead of starting one
  --port P           its client port (default with --host: 5222)
  --server-pid PID   with --host: the server's process id, to read its CPU time and
                     memory from /proc (a server on this machine)
  --domain D         XMPP domain (default: localhost)
  --muc-domain D     MUC service (default: conference.<domain>)
  --timeout S        seconds before a phase is aborted (default: 120)
  --json             print only one JSON line with every figure
  -h, --help         show this help`;

const LIMITS = {
  clients: 5_000,
  messages: 100_000,
  chatDeliveries: 2_000_000,
  deliveriesPerRoom: 2_000_000,
  window: 1_000,
  concurrency: 256,
  timeoutS: 600,
};
const LOGIN_TIMEOUT_MS = 15_000;
const SERVER_START_MS = 30_000;
const SERVER_STOP_GRACE_MS = 5_000;
// Gives the message a typical chat length: about 250 bytes per delivered stanza.
const FILLER = "the quick brown fox jumps over the lazy dog while the benchmark keeps counting";

interface Options {
  clients: number;
  occupants: number[];
  messages: number[];
  window: number;
  chatPairs: number;
  chatMessages: number;
  chatWindow: number;
  chatTo: ChatAddressing[];
  pepContacts: number;
  pepPublishes: number;
  pepWindow: number;
  concurrency: number;
  warmupLogins: number;
  /** Timed logins resume the TLS session of the warm-up login of the same account. */
  resumeTls: boolean;
  mechanism: BenchMechanism;
  password: string;
  host?: string;
  port?: number;
  serverPid?: number;
  domain: string;
  mucDomain: string;
  timeoutMs: number;
  json: boolean;
}

const CHAT_ADDRESSING = ["full", "bare"] as const;
type ChatAddressing = typeof CHAT_ADDRESSING[number];

/** Where the measurement stands: what the phases share. */
type Bench = PhaseBench<Options>;

function positiveInt(name: string, text: string, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new UsageError(`--${name} must be an integer from 1 to ${max}, got "${text}"`);
  }
  return value;
}

function intList(name: string, text: string, max: number): number[] {
  const values = text.split(",").map((part) => positiveInt(name, part.trim(), max));
  if (values.length === 0) throw new UsageError(`--${name} is empty`);
  return values;
}

function parseOptions(args: string[]): Options | "help" {
  const { values, positionals } = parseArgs({
    args,
    options: {
      clients: { type: "string" },
      occupants: { type: "string" },
      messages: { type: "string" },
      window: { type: "string" },
      "chat-pairs": { type: "string" },
      "chat-messages": { type: "string" },
      "chat-window": { type: "string" },
      "chat-to": { type: "string" },
      "pep-contacts": { type: "string" },
      "pep-publishes": { type: "string" },
      "pep-window": { type: "string" },
      concurrency: { type: "string" },
      "warmup-logins": { type: "string" },
      "resume-tls": { type: "boolean" },
      mechanism: { type: "string" },
      password: { type: "string" },
      host: { type: "string" },
      port: { type: "string" },
      "server-pid": { type: "string" },
      domain: { type: "string" },
      "muc-domain": { type: "string" },
      timeout: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return "help";
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const occupants = values.occupants?.trim() === "0"
    ? []
    : intList("occupants", values.occupants ?? "50,500", LIMITS.clients);
  const givenContacts = values["pep-contacts"] === undefined
    ? undefined
    : values["pep-contacts"].trim() === "0"
    ? 0
    : positiveInt("pep-contacts", values["pep-contacts"], LIMITS.clients - 1);
  const clients = values.clients === undefined
    ? Math.max(...occupants, (givenContacts ?? 500) + 1)
    : positiveInt("clients", values.clients, LIMITS.clients);
  const pepContacts = givenContacts ?? Math.min(500, clients - 1);
  if (pepContacts > clients - 1) {
    throw new UsageError(`--pep-contacts may not exceed --clients - 1 (${clients - 1})`);
  }
  const pepPublishes = values["pep-publishes"] === undefined
    ? Math.min(LIMITS.messages, Math.max(20, Math.round(100_000 / Math.max(1, pepContacts))))
    : positiveInt("pep-publishes", values["pep-publishes"], LIMITS.messages);
  if (pepContacts * pepPublishes > LIMITS.deliveriesPerRoom) {
    throw new UsageError(
      `${pepPublishes} publishes to ${pepContacts} contacts exceed ` +
        `${LIMITS.deliveriesPerRoom} deliveries`,
    );
  }
  if (Math.max(...occupants) > clients) {
    throw new UsageError(`--occupants may not exceed --clients (${clients})`);
  }
  let messages: number[];
  if (values.messages === undefined) {
    messages = occupants.map((k) => Math.min(2000, Math.max(100, Math.round(100_000 / k))));
  } else {
    const given = intList("messages", values.messages, LIMITS.messages);
    if (given.length !== 1 && given.length !== occupants.length) {
      throw new UsageError("--messages takes one value or one per --occupants value");
    }
    messages = occupants.map((_, i) => given.length === 1 ? given[0] : given[i]);
  }
  occupants.forEach((k, i) => {
    if (k * messages[i] > LIMITS.deliveriesPerRoom) {
      throw new UsageError(
        `${messages[i]} messages to ${k} occupants exceed ${LIMITS.deliveriesPerRoom} deliveries`,
      );
    }
  });
  const maxPairs = Math.floor(clients / 2);
  let chatPairs = Math.min(100, maxPairs);
  if (values["chat-pairs"] !== undefined) {
    chatPairs = values["chat-pairs"].trim() === "0"
      ? 0
      : positiveInt("chat-pairs", values["chat-pairs"], LIMITS.clients);
    if (chatPairs > maxPairs) {
      throw new UsageError(`--chat-pairs may not exceed half of --clients (${maxPairs})`);
    }
  }
  const chatMessages = values["chat-messages"] === undefined
    ? Math.min(LIMITS.messages, Math.max(1, Math.round(100_000 / Math.max(1, chatPairs))))
    : positiveInt("chat-messages", values["chat-messages"], LIMITS.messages);
  if (chatPairs * chatMessages > LIMITS.chatDeliveries) {
    throw new UsageError(
      `${chatMessages} messages from each of ${chatPairs} senders exceed ` +
        `${LIMITS.chatDeliveries} deliveries`,
    );
  }
  const chatTo = (values["chat-to"] ?? "full,bare").split(",").map((part) => part.trim());
  for (const to of chatTo) {
    if (!(CHAT_ADDRESSING as readonly string[]).includes(to)) {
      throw new UsageError(`--chat-to takes full, bare or full,bare, got "${to}"`);
    }
  }
  const mechanism = values.mechanism ?? "SCRAM-SHA-1";
  if (!(BENCH_MECHANISMS as readonly string[]).includes(mechanism)) {
    throw new UsageError(
      `--mechanism must be one of ${BENCH_MECHANISMS.join(", ")}, got "${mechanism}"`,
    );
  }
  if (values.port !== undefined && values.host === undefined) {
    throw new UsageError("--port needs --host (without --host the bench starts its own server)");
  }
  if (values["server-pid"] !== undefined && values.host === undefined) {
    throw new UsageError("--server-pid needs --host (a server the bench starts is known)");
  }
  const warmupLogins = values["warmup-logins"] === undefined ||
      values["warmup-logins"].trim() === "0"
    ? 0
    : positiveInt("warmup-logins", values["warmup-logins"], clients);
  if (values["resume-tls"] && warmupLogins === 0) {
    throw new UsageError("--resume-tls needs --warmup-logins (their TLS sessions are resumed)");
  }
  const domain = values.domain ?? "localhost";
  const password = values.password ?? "bench-password";
  if (password === "") throw new UsageError("--password must not be empty");
  return {
    clients,
    occupants,
    messages,
    window: values.window === undefined ? 20 : positiveInt("window", values.window, LIMITS.window),
    chatPairs,
    chatMessages,
    chatWindow: values["chat-window"] === undefined
      ? 10
      : positiveInt("chat-window", values["chat-window"], LIMITS.window),
    chatTo: [...new Set(chatTo)] as ChatAddressing[],
    pepContacts,
    pepPublishes,
    pepWindow: values["pep-window"] === undefined
      ? 4
      : positiveInt("pep-window", values["pep-window"], LIMITS.window),
    concurrency: values.concurrency === undefined
      ? 16
      : positiveInt("concurrency", values.concurrency, LIMITS.concurrency),
    warmupLogins,
    resumeTls: values["resume-tls"] ?? false,
    mechanism: mechanism as BenchMechanism,
    password,
    host: values.host,
    port: values.host === undefined ? undefined : positiveInt("port", values.port ?? "5222", 65535),
    serverPid: values["server-pid"] === undefined
      ? undefined
      : positiveInt("server-pid", values["server-pid"], 2 ** 31 - 1),
    domain,
    mucDomain: values["muc-domain"] ?? `conference.${domain}`,
    timeoutMs: 1000 *
      (values.timeout === undefined
        ? 120
        : positiveInt("timeout", values.timeout, LIMITS.timeoutS)),
    json: values.json ?? false,
  };
}

// ---------------------------------------------------------------------------------------------
// Phase 1: logins

/**
 * Logs in `count` clients (bench1..), kept in `clients`; with `warmup`, closes them again and
 * waits until the server has handled that. With `tlsSessions`, a warm-up keeps each account's
 * TLS session there and the timed logins resume them.
 */
async function loginPhase(
  bench: Bench,
  { warmup = false, tlsSessions }: {
    warmup?: boolean;
    tlsSessions?: (Uint8Array | undefined)[];
  } = {},
) {
  const { options } = bench;
  const count = warmup ? options.warmupLogins : options.clients;
  const clients = warmup ? [] : bench.clients;
  const rssBefore = await serverRss(bench);
  const start = await sample(bench);
  await withinPhase(
    bench,
    warmup ? "warm-up logins" : "logins",
    pool(bench, count, options.concurrency, async (i) => {
      const client = new BenchClient();
      clients[i] = client;
      await client.login({
        host: bench.host,
        port: bench.port,
        domain: options.domain,
        username: `bench${i + 1}`,
        password: options.password,
        mechanism: options.mechanism,
        resource: warmup ? "warmup" : "bench",
        timeoutMs: LOGIN_TIMEOUT_MS,
        tlsSession: warmup ? undefined : tlsSessions?.[i],
      });
    }),
  );
  if (warmup && tlsSessions !== undefined) {
    clients.forEach((client, i) => tlsSessions[i] = client.tlsSession);
  }
  const end = await sample(bench);
  const rssAfter = await serverRss(bench);
  const used = usage(start, end);
  if (warmup) {
    for (const client of clients) client.close();
    if (bench.serverPid !== undefined) await cpuQuiet(bench.serverPid, bench.ticks);
  }
  return {
    clients: count,
    mechanism: options.mechanism,
    concurrency: options.concurrency,
    loginsPerSecond: round(count / (used.wallMs / 1000), 1),
    serverCpuMsPerLogin: round(used.serverCpuMs / count, 2),
    serverRssKiBBefore: rssBefore,
    serverRssKiBAfter: rssAfter,
    serverKiBPerSession: round((rssAfter - rssBefore) / count, 1),
    tlsResumed: warmup || tlsSessions === undefined
      ? undefined
      : clients.filter((client) => client.tlsResumed).length,
    ...used,
  };
}

// ---------------------------------------------------------------------------------------------
// Phase 2: 1:1 chat

interface ChatResult extends DeliveryFigures {
  addressing: ChatAddressing;
  pairs: number;
  /** Messages each sender sends. */
  messages: number;
  window: number;
  expectedDeliveries: number;
  deliveries: number;
  missing: number;
  /** Fewest and most messages one receiver got (each should get all). */
  perReceiverMin: number;
  perReceiverMax: number;
  outOfOrder: number;
  errors: number;
  firstError?: string;
  stalled: boolean;
}

/**
 * Clients 2p and 2p+1 form pair p: the first sends `messages` chat messages to the second,
 * addressed to its full JID (from the bind result) or its bare JID, with at most
 * `options.chatWindow` not yet received. The receiver is in this process, so receipt is counted
 * where it happens: no receipts (XEP-0184) cross the server.
 */
async function chatPhase(
  bench: Bench,
  addressing: ChatAddressing,
): Promise<ChatResult> {
  const { options } = bench;
  const pairs = options.chatPairs;
  const messages = options.chatMessages;
  const window = options.chatWindow;
  const phase = `1:1 chat (${addressing} JID)`;
  const prefix = `c${addressing[0]} `;
  const expected = pairs * messages;
  const latencies = new Float64Array(expected);
  const sent = new Uint32Array(pairs);
  const inFlight = new Uint32Array(pairs);
  const received = new Uint32Array(pairs);
  const lastSeq = new Int32Array(pairs).fill(-1);
  const senders: BenchClient[] = [];
  const receivers: BenchClient[] = [];
  const targets: string[] = [];
  for (let p = 0; p < pairs; p++) {
    senders.push(bench.clients[2 * p]);
    const receiver = bench.clients[2 * p + 1];
    receivers.push(receiver);
    const full = receiver.fullJid;
    const slash = full.indexOf("/");
    targets.push(escapeAttr(addressing === "full" || slash === -1 ? full : full.slice(0, slash)));
  }
  let delivered = 0;
  let outOfOrder = 0;
  let errors = 0;
  let firstError: string | undefined;
  let lastAt = 0;
  let finished: () => void = () => {};
  const done = new Promise<void>((resolve) => finished = resolve);
  const settled = () => {
    if (delivered + errors >= expected) finished();
  };

  const pump = (p: number) => {
    const sender = senders[p];
    if (sender.closeReason !== undefined || bench.aborted) return;
    while (inFlight[p] < window && sent[p] < messages) {
      const ts = performance.now();
      sender.send(
        `<message type='chat' to='${targets[p]}' id='c${p}-${sent[p]}'>` +
          `<body>${prefix}${sent[p]} ${ts.toFixed(3)} ${FILLER}</body></message>`,
      );
      sent[p]++;
      inFlight[p]++;
    }
  };

  for (let p = 0; p < pairs; p++) {
    // A bounce comes back to the sender: it frees its slot in the window.
    senders[p].onStanza = (raw) => {
      if (!raw.startsWith("<message")) return;
      if (!raw.includes("type='error'") && !raw.includes('type="error"')) return;
      errors++;
      firstError ??= raw;
      if (inFlight[p] > 0) inFlight[p]--;
      lastAt = performance.now();
      pump(p);
      settled();
    };
    receivers[p].onStanza = (raw) => {
      if (!raw.startsWith("<message")) return;
      const bodyAt = raw.indexOf("<body>");
      if (bodyAt === -1 || !raw.startsWith(prefix, bodyAt + 6)) return;
      const at = performance.now();
      const seqAt = bodyAt + 6 + prefix.length;
      const tsAt = raw.indexOf(" ", seqAt) + 1;
      const seq = Number(raw.slice(seqAt, tsAt - 1));
      const ts = Number(raw.slice(tsAt, raw.indexOf(" ", tsAt)));
      if (delivered < expected) latencies[delivered] = at - ts;
      delivered++;
      lastAt = at;
      received[p]++;
      if (seq <= lastSeq[p]) outOfOrder++;
      lastSeq[p] = seq;
      if (inFlight[p] > 0) inFlight[p]--;
      pump(p);
      settled();
    };
  }

  const { stalled, used } = await timeDeliveries(bench, phase, {
    kickOff: () => {
      for (let p = 0; p < pairs; p++) pump(p);
    },
    done,
    finished: () => finished(),
    lastAt: () => lastAt,
    delivered: () => delivered,
    detach: () => {
      for (let p = 0; p < pairs; p++) {
        senders[p].onStanza = () => {};
        receivers[p].onStanza = () => {};
      }
    },
  });
  return {
    addressing,
    pairs,
    messages,
    window,
    expectedDeliveries: expected,
    deliveries: delivered,
    missing: expected - delivered,
    perReceiverMin: Math.min(...received),
    perReceiverMax: Math.max(...received),
    outOfOrder,
    errors,
    firstError,
    stalled,
    ...deliveryFigures(latencies.subarray(0, Math.min(delivered, expected)), delivered, used),
  };
}

// ---------------------------------------------------------------------------------------------
// Phase 3: joins

/** The first `count` clients enter `roomJid`; the first creates and configures it. */
async function fillRoom(
  bench: Bench,
  roomJid: string,
  count: number,
): Promise<{ created: boolean }> {
  const timeoutMs = bench.options.timeoutMs;
  const first = await enter(bench.clients[0], roomJid, "bench1", timeoutMs);
  if (first.created) await configureInstantRoom(bench.clients[0], roomJid, timeoutMs);
  await pool(
    bench,
    count - 1,
    bench.options.concurrency,
    (i) => enter(bench.clients[i + 1], roomJid, `bench${i + 2}`, timeoutMs).then(() => {}),
  );
  return first;
}

async function joinPhase(bench: Bench, roomJid: string) {
  const { options } = bench;
  const start = await sample(bench);
  const { created } = await withinPhase(bench, "joins", fillRoom(bench, roomJid, options.clients));
  const end = await sample(bench);
  const rss = await serverRss(bench);
  const used = usage(start, end);
  return {
    room: roomJid,
    occupants: options.clients,
    createdByBench: created,
    joinsPerSecond: round(options.clients / (used.wallMs / 1000), 1),
    serverCpuMsPerJoin: round(used.serverCpuMs / options.clients, 2),
    // Entering a room of k occupants sends k presences to the joiner and one to each of k others.
    presenceStanzas: options.clients * options.clients,
    serverRssKiBAfter: rss,
    ...used,
  };
}

// ---------------------------------------------------------------------------------------------
// Phase 4: fan-out

interface FanoutResult extends DeliveryFigures {
  room: string;
  occupants: number;
  messages: number;
  window: number;
  expectedDeliveries: number;
  deliveries: number;
  missing: number;
  /** Fewest and most messages one occupant received (each should get all). */
  perOccupantMin: number;
  perOccupantMax: number;
  outOfOrder: number;
  errors: number;
  firstError?: string;
  stalled: boolean;
  setupMs: number;
}

async function fanoutPhase(
  bench: Bench,
  occupants: number,
  messages: number,
  mainRoom: string,
): Promise<FanoutResult> {
  const { options } = bench;
  const phase = `fan-out ${occupants}`;
  const setupStart = performance.now();
  let roomJid = mainRoom;
  if (occupants !== options.clients) {
    roomJid = `bench-${occupants}@${options.mucDomain}`;
    await withinPhase(bench, `${phase} (entering)`, fillRoom(bench, roomJid, occupants));
  }
  const sender = bench.clients[0];
  // Everything the joins caused has been written once the sender's ping comes back.
  await withinPhase(bench, `${phase} (sync)`, sender.ping(options.domain, options.timeoutMs));
  const setupMs = performance.now() - setupStart;

  const tag = `f${occupants}`;
  const prefix = `${tag} `;
  const expected = occupants * messages;
  const latencies = new Float64Array(expected);
  const counts = new Uint32Array(occupants);
  const lastSeq = new Int32Array(occupants).fill(-1);
  const escapedRoom = escapeAttr(roomJid);
  let delivered = 0;
  let outOfOrder = 0;
  let errors = 0;
  let firstError: string | undefined;
  let sent = 0;
  let inFlight = 0;
  let lastAt = 0;
  let finished: () => void = () => {};
  const done = new Promise<void>((resolve) => finished = resolve);

  const pump = () => {
    while (inFlight < options.window && sent < messages) {
      const ts = performance.now();
      sender.send(
        `<message to='${escapedRoom}' type='groupchat' id='${tag}-${sent}'>` +
          `<body>${prefix}${sent} ${ts.toFixed(3)} ${FILLER}</body></message>`,
      );
      sent++;
      inFlight++;
    }
  };

  for (let j = 0; j < occupants; j++) {
    const isSender = j === 0;
    bench.clients[j].onStanza = (raw) => {
      if (!raw.startsWith("<message")) return;
      const bodyAt = raw.indexOf("<body>");
      if (bodyAt === -1 || !raw.startsWith(prefix, bodyAt + 6)) {
        if (raw.includes("type='error'") || raw.includes('type="error"')) {
          errors++;
          firstError ??= raw;
        }
        return;
      }
      const at = performance.now();
      const seqAt = bodyAt + 6 + prefix.length;
      const tsAt = raw.indexOf(" ", seqAt) + 1;
      const seq = Number(raw.slice(seqAt, tsAt - 1));
      const ts = Number(raw.slice(tsAt, raw.indexOf(" ", tsAt)));
      if (raw.includes("type='error'") || raw.includes('type="error"')) {
        errors++;
        firstError ??= raw;
        if (isSender) {
          inFlight--;
          pump();
        }
        return;
      }
      if (delivered < expected) latencies[delivered] = at - ts;
      delivered++;
      lastAt = at;
      counts[j]++;
      if (seq <= lastSeq[j]) outOfOrder++;
      lastSeq[j] = seq;
      if (isSender) {
        inFlight--;
        pump();
      }
      if (delivered >= expected) finished();
    };
  }

  const { stalled, used } = await timeDeliveries(bench, phase, {
    kickOff: pump,
    done,
    finished: () => finished(),
    lastAt: () => lastAt,
    delivered: () => delivered,
    detach: () => {
      for (let j = 0; j < occupants; j++) bench.clients[j].onStanza = () => {};
    },
  });
  return {
    room: roomJid,
    occupants,
    messages,
    window: options.window,
    expectedDeliveries: expected,
    deliveries: delivered,
    missing: expected - delivered,
    perOccupantMin: Math.min(...counts),
    perOccupantMax: Math.max(...counts),
    outOfOrder,
    errors,
    firstError,
    stalled,
    setupMs: round(setupMs, 0),
    ...deliveryFigures(latencies.subarray(0, Math.min(delivered, expected)), delivered, used),
  };
}

// ---------------------------------------------------------------------------------------------
// Setup, report, teardown

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

function commandLine(args: string[]): string {
  const script = join("tests", "bench", "load.ts");
  return [
    "deno run --allow-net --allow-read --allow-write --allow-env --allow-run --allow-sys",
    script,
    ...args.map(shellQuote),
  ].join(" ");
}

/** Clients whose connection has ended, with the first reason, or undefined if none. */
function lostConnections(bench: Bench): { count: number; firstReason: string } | undefined {
  const lost = bench.clients.filter((c) => c?.closeReason !== undefined);
  if (lost.length === 0) return undefined;
  return { count: lost.length, firstReason: lost[0].closeReason! };
}

/** `value` with its unit, or undefined (row left out) when it was not measured. */
function unit(value: number, suffix: string): string | undefined {
  return Number.isFinite(value) ? `${value} ${suffix}` : undefined;
}

function lost(info: { count: number; firstReason: string } | undefined): string | undefined {
  return info === undefined ? undefined : `${info.count} (first: ${info.firstReason})`;
}

/** A generator CPU share as a percentage, flagged when the generator may be the bottleneck. */
function busy(share: number): string {
  const flag = share >= SATURATED ? " (SATURATED: figures may be generator-bound)" : "";
  return `${Math.round(share * 100)} %${flag}`;
}

function table(title: string, rows: [string, string | number | boolean | undefined][]): string {
  const width = Math.max(...rows.map(([name]) => name.length));
  const lines = rows
    .filter(([, value]) => value !== undefined && !(typeof value === "number" && isNaN(value)))
    .map(([name, value]) => `  ${name.padEnd(width)}  ${value}`);
  return `\n${title}\n${lines.join("\n")}`;
}

function printPep(
  print: (line: string) => void,
  result: PepResult & { lostConnections: ReturnType<typeof lostConnections> },
): void {
  print(table(
    `PEP fan-out: ${result.contacts} contacts (mutual subscriptions, caps with tune+notify), ` +
      `${result.publishes} tune publishes from one, at most ${result.window} not yet received ` +
      "by all",
    [
      ["events/s", result.deliveriesPerSecond],
      ["server CPU per event", unit(result.serverCpuUsPerDelivery, "µs")],
      [
        "latency p50 / p99 / max",
        `${result.latencyMsP50} / ${result.latencyMsP99} / ${result.latencyMsMax} ms`,
      ],
      [
        "publish iq round trip p50 / p99",
        `${result.publishRttMsP50} / ${result.publishRttMsP99} ms ` +
        `(${result.publishesPerSecond} publishes/s)`,
      ],
      [
        "deliveries",
        `${result.deliveries} of ${result.expectedDeliveries} (per contact ` +
        `${result.perContactMin}..${result.perContactMax} of ${result.publishes})`,
      ],
      [
        "missing",
        result.missing === 0 ? 0 : `${result.missing}${result.stalled ? " (stalled)" : ""}`,
      ],
      ["out of order", result.outOfOrder === 0 ? undefined : result.outOfOrder],
      ["duplicates (not counted)", result.duplicates === 0 ? undefined : result.duplicates],
      ["errors", result.errors === 0 ? undefined : `${result.errors}: ${result.firstError}`],
      ["server CPU busy", unit(Math.round(result.serverCpuShare * 100), "%")],
      ["generator CPU busy", busy(result.generatorCpuShare)],
      [
        "wall time",
        `${result.wallMs} ms (setup: subscriptions ${result.setupMs.subscribe} ms, caps and ` +
        `node ${result.setupMs.caps} ms, ${result.warmUps} warm-up publishes)`,
      ],
      ["connections lost", lost(result.lostConnections)],
    ],
  ));
}

/** Runs the benchmark; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const opts = optionsOrExit(() => parseOptions(args), USAGE);
  if (typeof opts === "number") return opts;
  const print = (line: string) => {
    if (!opts.json) console.log(line);
  };
  const command = commandLine(args);
  const report: Record<string, unknown> = {
    command,
    mode: opts.host === undefined ? "spawned" : "remote",
    options: { ...opts, password: undefined, json: undefined },
  };
  const bench: Bench = {
    options: opts,
    host: opts.host ?? "127.0.0.1",
    port: opts.port ?? 0,
    serverPid: opts.serverPid,
    ticks: await clockTicks(),
    clients: [],
    aborted: false,
  };

  let server: BenchServer | undefined;
  let dataDir: string | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    cleaning ??= (async () => {
      bench.aborted = true;
      // The server stops first, with its sessions still connected: its shutdown is measured too.
      if (server !== undefined) {
        const connected = bench.clients.filter((c) => c?.closeReason === undefined).length;
        const stopped = await server.stop(SERVER_STOP_GRACE_MS);
        report.serverStop = { ...stopped, ms: round(stopped.ms, 0), connected };
      }
      for (const client of bench.clients) client?.close();
      if (dataDir !== undefined) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    })();
  const onSigint = () => {
    console.error("interrupted: stopping the server and removing the data directory");
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSigint);

  print("Verona load benchmark");
  print(`command: ${command}`);
  let failure: unknown;
  try {
    if (opts.host === undefined) {
      dataDir = await Deno.makeTempDir({ prefix: "verona-bench-" });
      const t0 = performance.now();
      await createAccounts(dataDir, "bench", opts.clients, opts.password);
      print(
        `accounts: bench1..bench${opts.clients} created in ${dataDir} ` +
          `(${Math.round(performance.now() - t0)} ms)`,
      );
      // The default allows 200 connections per address; every bench client comes from 127.0.0.1.
      // Logins stay shaped before authentication, as for any client.
      const configPath = join(dataDir, "verona.toml");
      await Deno.writeTextFile(
        configPath,
        `[limits]\nmax_connections = ${Math.max(10_000, opts.clients + 100)}\n` +
          `max_connections_per_ip = ${opts.clients + 100}\n` +
          // A load generator is a flooding client by design: no input shaping for it.
          `c2s_rate_bytes = 1000000000000\nc2s_burst_bytes = 1000000000000\n`,
      );
      const cpus = navigator.hardwareConcurrency;
      const canPin = onPath("taskset") && cpus >= 2;
      server = await spawnServer({
        args: ["--domain", opts.domain, "--data", dataDir, "--config", configPath],
        pinCpus: canPin ? "0" : undefined,
        startTimeoutMs: SERVER_START_MS,
      });
      bench.port = server.port;
      bench.serverPid = server.pid;
      const generatorCpus = cpus > 2 ? `1-${cpus - 1}` : "1";
      const generatorPinned = canPin && await pinProcess(Deno.pid, generatorCpus);
      const pinning = canPin
        ? `server pinned to CPU 0 (taskset -c 0); generator ${
          generatorPinned ? `pinned to CPU ${generatorCpus}` : "not pinned (taskset -p failed)"
        }`
        : `NOT pinned (${cpus < 2 ? "fewer than 2 CPUs" : "taskset not found"})`;
      report.server = {
        command: server.command.map(shellQuote).join(" "),
        pid: server.pid,
        port: server.port,
        pinned: canPin,
        generatorPinned,
        cpus,
        clockTicks: bench.ticks,
      };
      print(`server:  ${server.command.map(shellQuote).join(" ")}`);
      print(`         pid ${server.pid}, port ${server.port}, ${cpus} CPUs; ${pinning}`);
    } else {
      report.server = { host: opts.host, port: opts.port, pid: opts.serverPid };
      print(
        `server:  ${opts.host}:${opts.port} (not started by the bench: ${
          opts.serverPid === undefined
            ? "no server CPU figures"
            : `CPU and memory of pid ${opts.serverPid}`
        })`,
      );
      if (opts.clients > 200) {
        print(`warning: ${opts.clients} connections from one address; servers often limit that`);
      }
    }

    const tlsSessions = opts.resumeTls ? [] : undefined;
    if (opts.warmupLogins > 0) {
      const warmup = await loginPhase(bench, { warmup: true, tlsSessions });
      report.warmup = warmup;
      print(table(`warm-up: ${warmup.clients} logins, closed again (cold server)`, [
        ["logins/s", warmup.loginsPerSecond],
        ["server CPU per login", unit(warmup.serverCpuMsPerLogin, "ms")],
        ["generator CPU busy", busy(warmup.generatorCpuShare)],
      ]));
    }
    const logins = {
      ...await loginPhase(bench, { tlsSessions }),
      lostConnections: lostConnections(bench),
    };
    report.logins = logins;
    print(table(
      `logins: ${opts.clients} clients, STARTTLS + ${opts.mechanism} + bind + presence, ` +
        `${opts.concurrency} at once`,
      [
        ["logins/s", logins.loginsPerSecond],
        ["server CPU per login", unit(logins.serverCpuMsPerLogin, "ms")],
        ["server CPU busy", unit(Math.round(logins.serverCpuShare * 100), "%")],
        ["generator CPU busy", busy(logins.generatorCpuShare)],
        ["server RSS growth per session", unit(logins.serverKiBPerSession, "KiB (GC-noisy)")],
        ["wall time", `${logins.wallMs} ms`],
        [
          "TLS sessions resumed", // left out without --resume-tls, as other undefined values
          logins.tlsResumed === undefined ? undefined : `${logins.tlsResumed} of ${opts.clients}`,
        ],
        ["connections lost", lost(logins.lostConnections)],
      ],
    ));

    const chats: ChatResult[] = [];
    report.chat = chats;
    for (const addressing of opts.chatPairs > 0 ? opts.chatTo : []) {
      const result = {
        ...await chatPhase(bench, addressing),
        lostConnections: lostConnections(bench),
      };
      chats.push(result);
      print(table(
        `1:1 chat (${addressing} JID): ${result.pairs} pairs, ${result.messages} messages ` +
          `from each sender to its partner, at most ${result.window} in flight per sender`,
        [
          ["deliveries/s", result.deliveriesPerSecond],
          ["server CPU per delivery", unit(result.serverCpuUsPerDelivery, "µs")],
          [
            "latency p50 / p99 / max",
            `${result.latencyMsP50} / ${result.latencyMsP99} / ${result.latencyMsMax} ms`,
          ],
          [
            "deliveries",
            `${result.deliveries} of ${result.expectedDeliveries} (per receiver ` +
            `${result.perReceiverMin}..${result.perReceiverMax} of ${result.messages})`,
          ],
          [
            "missing",
            result.missing === 0 ? 0 : `${result.missing}${result.stalled ? " (stalled)" : ""}`,
          ],
          ["out of order", result.outOfOrder === 0 ? undefined : result.outOfOrder],
          ["errors", result.errors === 0 ? undefined : `${result.errors}: ${result.firstError}`],
          ["server CPU busy", unit(Math.round(result.serverCpuShare * 100), "%")],
          ["generator CPU busy", busy(result.generatorCpuShare)],
          ["wall time", `${result.wallMs} ms`],
          ["connections lost", lost(result.lostConnections)],
        ],
      ));
    }

    if (opts.pepContacts > 0) {
      // Before the joins: a presence sent after them would also go to every room.
      const result = { ...await pepPhase(bench), lostConnections: lostConnections(bench) };
      report.pep = result;
      printPep(print, result);
    }

    // No room sizes: a server without MUC (the login floor, say).
    if (opts.occupants.length > 0) {
      const mainRoom = `bench@${opts.mucDomain}`;
      const joins = {
        ...await joinPhase(bench, mainRoom),
        lostConnections: lostConnections(bench),
      };
      report.joins = joins;
      print(table(
        `joins: ${opts.clients} clients enter ${mainRoom}, ${opts.concurrency} at once`,
        [
          ["joins/s", joins.joinsPerSecond],
          ["server CPU per join", unit(joins.serverCpuMsPerJoin, "ms")],
          ["presence stanzas sent", joins.presenceStanzas],
          ["server CPU busy", unit(Math.round(joins.serverCpuShare * 100), "%")],
          ["generator CPU busy", busy(joins.generatorCpuShare)],
          ["server RSS", unit(joins.serverRssKiBAfter, "KiB")],
          ["wall time", `${joins.wallMs} ms`],
          ["connections lost", lost(joins.lostConnections)],
        ],
      ));

      const fanouts: unknown[] = [];
      report.fanout = fanouts;
      for (let i = 0; i < opts.occupants.length; i++) {
        const result = {
          ...await fanoutPhase(bench, opts.occupants[i], opts.messages[i], mainRoom),
          lostConnections: lostConnections(bench),
        };
        fanouts.push(result);
        print(table(
          `fan-out: ${result.occupants} occupants in ${result.room}, ${result.messages} messages ` +
            `from one, at most ${result.window} in flight`,
          [
            ["deliveries/s", result.deliveriesPerSecond],
            ["server CPU per delivery", unit(result.serverCpuUsPerDelivery, "µs")],
            [
              "latency p50 / p99 / max",
              `${result.latencyMsP50} / ${result.latencyMsP99} / ${result.latencyMsMax} ms`,
            ],
            [
              "deliveries",
              `${result.deliveries} of ${result.expectedDeliveries} (per occupant ` +
              `${result.perOccupantMin}..${result.perOccupantMax} of ${result.messages})`,
            ],
            [
              "missing",
              result.missing === 0
                ? undefined
                : `${result.missing}${result.stalled ? " (stalled)" : ""}`,
            ],
            ["out of order", result.outOfOrder === 0 ? undefined : result.outOfOrder],
            ["errors", result.errors === 0 ? undefined : `${result.errors}: ${result.firstError}`],
            ["server CPU busy", unit(Math.round(result.serverCpuShare * 100), "%")],
            ["generator CPU busy", busy(result.generatorCpuShare)],
            ["wall time", `${result.wallMs} ms (room setup ${result.setupMs} ms)`],
            ["connections lost", lost(result.lostConnections)],
          ],
        ));
      }
    }
  } catch (error) {
    failure = error;
    report.error = error instanceof Error ? error.message : String(error);
  } finally {
    await cleanup();
    Deno.removeSignalListener("SIGINT", onSigint);
  }

  if (server !== undefined) {
    const kinds = server.logKinds();
    const total = kinds.reduce((sum, [, count]) => sum + count, 0);
    report.serverLog = { lines: total, kinds: Object.fromEntries(kinds.slice(0, 20)) };
    const stop = report.serverStop as
      | { code: number; killed: boolean; ms: number; connected: number }
      | undefined;
    print(
      `\nserver stopped (SIGTERM with ${stop?.connected} clients connected) in ${stop?.ms} ms, ` +
        `exit code ${stop?.code}${
          stop?.killed ? " (KILLED after SIGTERM grace)" : ""
        }; ${total} lines on stderr${total > 0 ? ", by kind:" : ""}`,
    );
    for (const [kind, count] of kinds.slice(0, 12)) {
      print(`  ${String(count).padStart(7)}  ${kind}`);
    }
  }
  if (failure !== undefined) {
    console.error(`\nerror: ${report.error}`);
  }
  if (opts.json) console.log(JSON.stringify(report));
  else print(`\n${JSON.stringify(report)}`);
  return failure === undefined ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
