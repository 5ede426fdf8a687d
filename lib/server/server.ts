// The assembled server: storage, TLS, router, the enabled modules (lib/modules/loader.ts) and the
// c2s listener (with its direct-TLS port, XEP-0368).
import { createSecureContext } from "node:tls";
import type { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { Accounts } from "../accounts/accounts.ts";
import { adminCommands, type ServerStatus, statusLine } from "../admin/admin_commands.ts";
import { ADMIN_SOCKET_NAME, AdminSocket } from "../admin/admin_socket.ts";
import { c2sCounters, type C2sOptions, C2sStream } from "../c2s/stream.ts";
import { Metrics } from "../metrics/metrics.ts";
import { EndedResumptions } from "../c2s/stream_management.ts";
import { BatchedLog } from "./log.ts";
import { type Config, moduleSection } from "../config/config.ts";
import { BUILTIN_MODULES } from "../modules/builtin.ts";
import { HTTP_MODULE, type HttpApi } from "../http/mod.ts";
import { type RunningModules, startModules } from "../modules/loader.ts";
import { ensureCertificate } from "../net/certificate.ts";
import { Listener } from "../net/listener.ts";
import { KeyedBuckets } from "../net/token_bucket.ts";
import { REGISTRATION_MODULE } from "../register/mod.ts";
import { S2S_MODULE, type S2sApi } from "../s2s/mod.ts";
import { Router } from "../router/router.ts";
import { createPlainServer } from "../sasl/plain_server.ts";
import { createScramServer } from "../sasl/scram_server.ts";
import { SqliteAccountStore } from "../storage/account_store.ts";
import { SqliteTombstoneStore } from "../storage/tombstone_store.ts";
import { openDatabase } from "../storage/sqlite.ts";

export interface StartOptions {
  /** Log sink; defaults to stderr with a timestamp. */
  log?: (line: string) => void;
}

/** A running server. */
/** How often the sum of every connection's send queue is checked against its bound. */
const SEND_BUDGET_CHECK_MS = 250;
/** Every this many checks, connections idle since the last sweep free their parsers (10 s). */
const IDLE_SWEEP_EVERY = 40;

/** Longest wait at shutdown for connections to close by themselves (their linger time is 2 s). */
const STOP_WAIT_MS = 3000;

export class Server {
  readonly config: Config;
  readonly accounts: Accounts;
  readonly router: Router;
  /** Everything `/metrics` reports; modules add theirs at start. */
  readonly metrics: Metrics;
  #db: DatabaseSync;
  #listener: Listener;
  #streams = new Set<C2sStream>();
  #sending = new Set<C2sStream>();
  /** The default log, when no `log` was given: flushed when the server stops. */
  #batchedLog: BatchedLog | undefined;
  #log: (line: string) => void = () => {};
  #modules: RunningModules;
  #stopped: Promise<void> | null = null;
  #admin: AdminSocket | null = null;
  #startedAt = Date.now();
  #sendBudgetTimer: ReturnType<typeof setInterval> | undefined;

  private constructor(
    parts: {
      config: Config;
      accounts: Accounts;
      router: Router;
      db: DatabaseSync;
      listener: Listener;
      modules: RunningModules;
      metrics: Metrics;
    },
  ) {
    this.metrics = parts.metrics;
    this.config = parts.config;
    this.accounts = parts.accounts;
    this.router = parts.router;
    this.#db = parts.db;
    this.#listener = parts.listener;
    this.#modules = parts.modules;
  }

  /** Opens the database, prepares TLS and starts listening. */
  static async start(config: Config, options: StartOptions = {}): Promise<Server> {
    const batched = options.log === undefined ? new BatchedLog() : undefined;
    const log = options.log ?? batched!.line;
    const db = openDatabase(config.databasePath);
    let modules: RunningModules | undefined;
    try {
      const accounts = new Accounts(new SqliteAccountStore(db), {
        tombstones: new SqliteTombstoneStore(db),
        tombstoneDays: config.registration.tombstoneDays,
      });
      const certificate = await ensureCertificate({
        dataDir: config.dataDir,
        domain: config.domain,
        certFile: config.tls.certFile,
        keyFile: config.tls.keyFile,
      });
      if (certificate.generated) {
        log(`generated a self-signed certificate: ${certificate.certPath}`);
      }
      const secureContext = createSecureContext({
        cert: certificate.certPem,
        key: certificate.keyPem,
      });
      const router = new Router({
        domain: config.domain,
        accountExists: (local) => accounts.exists(local),
        log,
      });
      const metrics = new Metrics();
      const streams = new Set<C2sStream>();
      // Streams written to since the send-budget check last found their queue empty: only they
      // can hold anything, so an idle crowd costs that check nothing.
      const sending = new Set<C2sStream>();
      // Assigned once the modules have started; acceptClient may be called only after that.
      // deno-lint-ignore prefer-const
      let c2sOptions: C2sOptions | undefined;
      modules = await startModules(BUILTIN_MODULES, {
        router,
        db,
        accounts,
        server: {
          domain: config.domain,
          mucDomain: config.mucDomain,
          admins: config.admins,
          dataDir: config.dataDir,
          certificate: { certPem: certificate.certPem, keyPem: certificate.keyPem },
          acceptClient: (transport) => {
            if (c2sOptions === undefined) return transport.destroy(); // still starting
            streams.add(new C2sStream(transport, c2sOptions));
          },
        },
        log,
        metrics,
        section: (name) => moduleSection(config, name),
      });
      const registration = modules.api(REGISTRATION_MODULE);

      // One options object for every stream (not one per connection, with its closures).
      c2sOptions = {
        domain: config.domain,
        router,
        secureContext,
        tlsRequired: config.tls.required,
        limits: config.limits,
        mechanisms: (encrypted) =>
          encrypted ? ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"] : ["SCRAM-SHA-256", "SCRAM-SHA-1"],
        createMechanism: (name) => {
          if (name === "PLAIN") return createPlainServer(accounts, { domain: config.domain });
          return createScramServer(name === "SCRAM-SHA-1" ? "SHA-1" : "SHA-256", accounts, {
            domain: config.domain,
          });
        },
        log,
        registration,
        closed: (ended) => {
          streams.delete(ended);
          sending.delete(ended);
        },
        wrote: (stream) => sending.add(stream),
        endedResumptions: new EndedResumptions(),
        authFailuresByAddress: new KeyedBuckets({
          perSecond: config.limits.authFailuresPerIpPerMinute / 60,
          burst: config.limits.authFailuresPerIpBurst,
        }),
        underPressure: () => listener.connections * 2 >= config.limits.maxConnections,
        counters: c2sCounters(metrics),
      };
      const listener = await Listener.listen({
        hostname: config.bind,
        port: config.port,
        directTls: config.directTlsPort === null
          ? undefined
          : { port: config.directTlsPort, secureContext },
        maxConnections: config.limits.maxConnections,
        maxConnectionsPerIp: config.limits.maxConnectionsPerIp,
        transportLimits: {
          maxSendQueueBytes: config.limits.maxSendQueueBytes,
          inputRate: {
            perSecond: config.limits.preauthRateBytes,
            burst: config.limits.preauthBurstBytes,
          },
        },
        refused: (address, reason) => log(`refused connection from ${address}: ${reason}`),
        accept: (transport) => {
          streams.add(new C2sStream(transport, c2sOptions));
        },
      });
      const server = new Server({ config, accounts, router, db, listener, modules, metrics });
      server.#registerGauges();
      let ticks = 0;
      server.#sendBudgetTimer = setInterval(() => {
        server.#enforceSendBudget();
        if (++ticks % IDLE_SWEEP_EVERY === 0) server.releaseIdle();
      }, SEND_BUDGET_CHECK_MS);
      server.#streams = streams;
      server.#sending = sending;
      server.#batchedLog = batched;
      server.#log = log;
      const adminPath = join(config.dataDir, ADMIN_SOCKET_NAME);
      try {
        server.#admin = await AdminSocket.listen(
          adminPath,
          adminCommands(router, () => server.status()),
        );
      } catch (error) {
        // The server runs without it; only `verona status` and live sessions are missing.
        log(`no admin socket at ${adminPath}: ${error instanceof Error ? error.message : error}`);
      }
      return server;
    } catch (error) {
      await modules?.stop();
      db.close();
      batched?.flush();
      throw error;
    }
  }

  /** The bound c2s port. */
  get port(): number {
    return this.#listener.port;
  }

  /** The bound port for clients over direct TLS (XEP-0368), or null without one. */
  get directTlsPort(): number | null {
    return this.#listener.directTlsPort;
  }

  /** The HTTP(S) server's bound ports and public URLs, or null when the http module is off. */
  get http(): HttpApi | null {
    return this.#modules.api(HTTP_MODULE) ?? null;
  }

  /** Federation (the s2s module's service and its port), or null when it is off. */
  get s2s(): S2sApi | null {
    return this.#modules.api(S2S_MODULE) ?? null;
  }

  /** Live client streams. */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** Open client connections, as counted against `max_connections`. */
  get connectionCount(): number {
    return this.#listener.connections;
  }

  /** Open client connections per remote address, as counted against `max_connections_per_ip`. */
  get connectionsPerAddress(): ReadonlyMap<string, number> {
    return this.#listener.connectionsPerAddress;
  }

  /** Connections, streams, bound sessions and memory, for the admin. */
  status(): ServerStatus {
    const memory = Deno.memoryUsage();
    const s2s = this.s2s;
    const connected = s2s?.connectedDomains();
    return {
      connections: this.connectionCount,
      connectionsPerAddress: Object.fromEntries(this.connectionsPerAddress),
      streams: this.streamCount,
      sessions: this.router.sessionCount,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      uptimeSeconds: Math.floor((Date.now() - this.#startedAt) / 1000),
      s2s: s2s === null || connected === undefined ? undefined : {
        ...s2s.counts,
        domains: [...new Set([...connected.inbound, ...connected.outbound])].sort(),
      },
    };
  }

  /**
   * Frees what idle connections need not hold (their XML parsers); runs every 10 s by itself,
   * so a connection idle for 10–20 s holds less. Public for benchmarks and tests.
   */
  releaseIdle(): void {
    for (const stream of this.#streams) stream.releaseIdle();
  }

  /**
   * Each connection's send queue is bounded (`max_send_queue_bytes`), but a crowd of slow
   * readers could still hold gigabytes together (everyone joining a big room at once): past
   * `max_total_send_queue_bytes`, the connections with the most waiting go first, until the
   * total is under 90 % of it. Four times a second, one pass over the streams written to since
   * the last pass (those found with nothing queued leave the set until they are written to).
   */
  #enforceSendBudget(): void {
    const limit = this.config.limits.maxTotalSendQueueBytes;
    let total = 0;
    const waiting: { stream: C2sStream; queued: number }[] = [];
    for (const stream of this.#sending) {
      const queued = stream.queuedBytes;
      if (queued === 0) this.#sending.delete(stream);
      else {
        total += queued;
        waiting.push({ stream, queued });
      }
    }
    if (total <= limit) return;
    const before = total;
    waiting.sort((a, b) => b.queued - a.queued);
    let shed = 0;
    for (const { stream, queued } of waiting) {
      if (total <= limit * 0.9) break;
      stream.shed(queued);
      total -= queued;
      shed++;
    }
    this.#log(
      `send queues: ${before} bytes wait for clients, over max_total_send_queue_bytes ` +
        `(${limit}); closed the ${shed} connection(s) with the most`,
    );
  }

  /** The server-wide gauges: connections, sessions, memory, send queues, uptime. */
  #registerGauges(): void {
    const metrics = this.metrics;
    metrics.gauge({
      name: "verona_c2s_connections",
      help: "Open client connections (TCP, direct TLS)",
      read: () => this.connectionCount,
    });
    metrics.gauge({
      name: "verona_sessions",
      help: "Bound client sessions (resources), hibernating ones included",
      read: () => this.router.sessionCount,
    });
    metrics.gauge({
      name: "verona_c2s_send_queue_bytes",
      help: "Bytes waiting for clients that have not read them yet, all streams together",
      unit: "bytes",
      read: () => {
        let bytes = 0;
        for (const stream of this.#streams) bytes += stream.queuedBytes;
        return bytes;
      },
    });
    metrics.gauge({
      name: "verona_process_resident_memory_bytes",
      help: "Resident set size of the server process",
      unit: "bytes",
      read: () => Deno.memoryUsage().rss,
    });
    metrics.gauge({
      name: "verona_process_heap_used_bytes",
      help: "JavaScript heap in use",
      unit: "bytes",
      read: () => Deno.memoryUsage().heapUsed,
    });
    metrics.gauge({
      name: "verona_uptime_seconds",
      help: "Seconds since the server started",
      unit: "seconds",
      read: () => Math.floor((Date.now() - this.#startedAt) / 1000),
    });
  }

  /** {@linkcode status} as one log line. */
  statusLine(): string {
    return statusLine(this.status());
  }

  /** The names of the running modules, in start order. */
  get moduleNames(): string[] {
    return this.#modules.names;
  }

  /** Closes every stream with `<system-shutdown/>`, stops listening and closes the database. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      clearInterval(this.#sendBudgetTimer);
      const closing = this.#listener.close();
      const admin = this.#admin?.close();
      this.router.stop();
      for (const stream of this.#streams) {
        stream.closeWithError("system-shutdown", "Server is stopping");
      }
      // Each closed connection goes within its linger time; one that does not (a peer that
      // never reads, a socket stuck in its handshake) must not hold the stop up for ever.
      const waited = performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const lingering = await Promise.race([
        closing.then(() => false),
        new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), STOP_WAIT_MS)),
      ]);
      clearTimeout(timer);
      if (lingering) {
        this.#log(
          `stopping: ${this.#listener.connections} connection(s) still open after ` +
            `${Math.round(performance.now() - waited)} ms; closing them`,
        );
      }
      // Streams closed above had their chance to flush; nothing outlives the server.
      this.#listener.destroyAll();
      // Give the routing of the sessions' final unavailable presences a turn to finish.
      await new Promise((resolve) => setTimeout(resolve, 50));
      await this.#modules.stop();
      await admin;
      this.#db.close();
      this.#batchedLog?.flush();
    })();
    return this.#stopped;
  }
}
