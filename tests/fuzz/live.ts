// Fuzzing a live server: mutated streams before authentication (plain TCP, from the first byte)
// and mutated stanzas after it (STARTTLS, SASL PLAIN, bind, then the input), while a logged-in
// bystander pings the server. Each input is followed by a NUL byte, which no XML may contain, so
// every connection must end, promptly, in a stream error and a close (or in the close the input
// itself asked for); a connection still open after the timeout is a "wait", a failure. Before
// the NUL, a bound session whose input was complete must still answer a ping.
import { ReplayClient } from "../../lib/replay/client.ts";
import { FUZZ_HEADER, mutate, Prng } from "../../lib/xml/_fuzz.ts";
import { StreamParser } from "../../lib/xml/stream_parser.ts";
import { login } from "../_clients.ts";
import { openStream, RawClient } from "../_raw_client.ts";
import type { Corpus } from "./corpus.ts";

export interface LiveFuzzOptions {
  port: number;
  corpus: Corpus;
  seed: number;
  durationMs: number;
  /** Fuzzing connections at a time. */
  workers: number;
  /** Account for the bound sessions that receive mutated stanzas. */
  account: [string, string];
  /** Account of the bystander that pings throughout. */
  bystander: [string, string];
  /** Longest wait for an answer to one input. */
  timeoutMs: number;
  /** Largest repeat a mutation may insert. */
  maxRepeat: number;
  /** The server's resident set size in bytes, now. */
  rss(): number;
  /** False once the server process is gone. */
  alive?(): boolean;
  /** The server's input shaping, which makes large inputs take longer to be read. */
  rates: typeof FUZZ_RATES;
  /** Progress lines. */
  log?(line: string): void;
}

export interface LiveFuzzReport {
  inputs: number;
  preAuth: number;
  postAuth: number;
  /** How connections ended: `stream-error <condition>`, `close`, `tls` (STARTTLS we did not follow), ... */
  outcomes: Record<string, number>;
  /** Inputs whose connection stayed open past the timeout, or whose ping got no answer. */
  waits: number;
  /** Connections the server dropped without a stream error (other than after STARTTLS). */
  drops: number;
  /** A few failing inputs, for the report. */
  samples: string[];
  /** Complete inputs after which a bound session answered a ping. */
  servedPings: number;
  setupFailures: number;
  crashed: boolean;
  maxRssBytes: number;
  bystanderPings: number;
  bystanderFailures: number;
  pingP50Ms: number;
  pingP99Ms: number;
  pingMaxMs: number;
}

/**
 * Input shaping for fuzzing servers: the defaults (10 KiB/s before authentication) would make
 * each of the many 1 MB inputs take a minute to be read.
 */
export const FUZZ_RATES = {
  preauthRateBytes: 4 * 1024 * 1024,
  preauthBurstBytes: 1024 * 1024,
  c2sRateBytes: 4 * 1024 * 1024,
  c2sBurstBytes: 1024 * 1024,
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What the input alone should lead to, according to a fresh parser fed the same bytes. */
function oracle(prefix: Uint8Array | undefined, input: Uint8Array): {
  error?: string;
  closed: boolean;
  idle: boolean;
  /** A STARTTLS request came before any error: the server may rightly switch to TLS. */
  tls: boolean;
} {
  let error: string | undefined;
  let closed = false;
  let tls = false;
  const parser = new StreamParser({
    streamOpen: () => {},
    stanza: (stanza) => tls ||= stanza.name === "starttls",
    streamClose: () => closed = true,
    error: (condition) => error ??= condition,
  });
  if (prefix) parser.write(prefix);
  parser.write(input);
  return { error, closed, idle: parser.idle, tls };
}

/** A stream error's condition, or how else the connection ended. */
function outcomeOf(text: string): string {
  const m = text.match(/<stream:error><([a-z-]+) xmlns='urn:ietf:params:xml:ns:xmpp-streams'/);
  if (m) return `stream-error ${m[1]}`;
  if (text.includes("<proceed")) return "tls";
  if (text.includes("</stream:stream>")) return "close";
  return "drop";
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** Logs in over STARTTLS + SASL PLAIN and binds, on a raw connection. */
export async function rawLogin(
  port: number,
  [user, password]: [string, string],
  localAddress?: string,
): Promise<RawClient> {
  const raw = await RawClient.connect(port, localAddress);
  try {
    await raw.startTls();
    raw.send(
      `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` +
        `${btoa(`\0${user}\0${password}`)}</auth>`,
    );
    await raw.waitFor("<success");
    raw.send(openStream());
    await raw.waitFor("urn:ietf:params:xml:ns:xmpp-bind");
    raw.send("<iq type='set' id='fuzz-bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
    await raw.waitFor("</jid>");
    return raw;
  } catch (error) {
    raw.close();
    throw error;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits until the connection closes, or the server accepts STARTTLS (which this client does not
 * follow: the server then waits for a TLS ClientHello, rightly), or `ms` pass.
 */
async function ended(raw: RawClient, mark: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!raw.closed && !raw.text.includes("<proceed", mark)) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await raw.waitFor(/<proceed/, Math.min(left, 100)).catch(() => {});
  }
  return true;
}

/** Runs the fuzzer until the time is up. */
export async function runLiveFuzz(options: LiveFuzzOptions): Promise<LiveFuzzReport> {
  const report: LiveFuzzReport = {
    inputs: 0,
    preAuth: 0,
    postAuth: 0,
    outcomes: {},
    waits: 0,
    drops: 0,
    samples: [],
    servedPings: 0,
    setupFailures: 0,
    crashed: false,
    maxRssBytes: 0,
    bystanderPings: 0,
    bystanderFailures: 0,
    pingP50Ms: 0,
    pingP99Ms: 0,
    pingMaxMs: 0,
  };
  const end = Date.now() + options.durationMs;
  const running = () => Date.now() < end && !report.crashed;
  const streams = options.corpus.streams.map((s) => encoder.encode(s));
  const stanzas = options.corpus.stanzas.map((s) => encoder.encode(s));
  const header = encoder.encode(FUZZ_HEADER);
  const sample = (kind: string, input: Uint8Array, got: string) => {
    if (report.samples.length >= 10) return;
    const shown = decoder.decode(input.subarray(0, 240)).replace(/\0/g, "\\0");
    report.samples.push(`${kind}: ${JSON.stringify(shown)} (${input.length} bytes) -> ${got}`);
  };

  // The server's memory, sampled, and a progress line every 30 s.
  const started = Date.now();
  let ticks = 0;
  const sampler = setInterval(() => {
    report.maxRssBytes = Math.max(report.maxRssBytes, options.rss());
    if (options.alive && !options.alive()) report.crashed = true;
    if (++ticks % 150 === 0) {
      options.log?.(
        `${Math.round((Date.now() - started) / 1000)} s: ${report.inputs} inputs, ` +
          `${report.waits} waits, RSS ${(options.rss() / 1048576).toFixed(0)} MiB`,
      );
    }
  }, 200);

  // The bystander: a bound session pinging the server, whose latency must stay low.
  const latencies: number[] = [];
  const bystander = (async () => {
    let client: ReplayClient | undefined;
    while (running()) {
      try {
        client ??= await login(
          options.port,
          `${options.bystander[0]}@localhost`,
          options.bystander[1],
        );
        const started = performance.now();
        await client.sync(options.timeoutMs);
        latencies.push(performance.now() - started);
        report.bystanderPings++;
      } catch (error) {
        report.bystanderFailures++;
        options.log?.(`bystander: ${error instanceof Error ? error.message : error}`);
        client?.disconnect().catch(() => {});
        client = undefined;
      }
      await sleep(50);
    }
    await client?.disconnect().catch(() => {});
  })();

  const worker = async (index: number) => {
    const rng = new Prng(options.seed * 1000 + index);
    while (running()) {
      const post = rng.chance(0.5);
      let input: Uint8Array;
      if (post) {
        const parts = Array.from({ length: 1 + rng.int(4) }, () => rng.pick(stanzas));
        input = encoder.encode(parts.map((p) => decoder.decode(p)).join(""));
      } else if (rng.chance(0.5)) {
        input = rng.pick(streams);
      } else {
        const parts = Array.from(
          { length: 1 + rng.int(4) },
          () => decoder.decode(rng.pick(stanzas)),
        );
        input = encoder.encode(FUZZ_HEADER + parts.join(""));
      }
      for (let k = 1 + rng.int(3); k > 0; k--) {
        const other = post ? rng.pick(stanzas) : rng.pick(streams);
        input = mutate(input, rng, { other, maxRepeat: options.maxRepeat }).bytes;
      }
      const expected = oracle(post ? header : undefined, input);
      let raw: RawClient;
      // From many loopback addresses, as from many clients: the per-address limits on
      // connections and failed authentications are not what is under test (the bystander
      // connects from 127.0.0.1).
      const from = `127.0.${1 + rng.int(254)}.${2 + rng.int(250)}`;
      try {
        raw = post
          ? await rawLogin(options.port, options.account, from)
          : await RawClient.connect(options.port, from);
      } catch (error) {
        report.setupFailures++;
        options.log?.(`setup: ${error instanceof Error ? error.message : error}`);
        await sleep(100);
        continue;
      }
      report.inputs++;
      if (post) report.postAuth++;
      else report.preAuth++;
      const mark = raw.text.length;
      try {
        // A few writes at random boundaries.
        const cuts = Array.from({ length: rng.int(3) }, () => rng.int(input.length + 1)).sort((
          a,
          b,
        ) => a - b);
        let from = 0;
        for (const cut of [...cuts, input.length]) {
          if (cut > from) raw.send(input.slice(from, cut));
          from = cut;
        }
        // Shaping delays the reading of what exceeds the burst.
        const rate = post
          ? { perSecond: options.rates.c2sRateBytes, burst: options.rates.c2sBurstBytes }
          : { perSecond: options.rates.preauthRateBytes, burst: options.rates.preauthBurstBytes };
        const shaping = Math.max(0, input.length - rate.burst) / rate.perSecond * 1000;
        if (post && !expected.error && !expected.closed && expected.idle) {
          const id = `fuzz-ping-${report.inputs}`;
          raw.send(`<iq type='get' id='${id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
          const deadline = Date.now() + options.timeoutMs + shaping;
          while (!raw.closed && !raw.text.includes(`id='${id}'`, mark) && Date.now() < deadline) {
            await raw.waitFor(new RegExp(`id='${id}'`), deadline - Date.now()).catch(() => {});
          }
          if (raw.text.includes(`id='${id}'`, mark)) report.servedPings++;
          else if (!raw.closed) {
            report.waits++;
            sample("unanswered ping", input, raw.text.slice(mark, mark + 200));
          }
        }
        if (!raw.closed) raw.send(new Uint8Array([0]));
        if (!(await ended(raw, mark, options.timeoutMs + shaping))) {
          report.waits++;
          sample(
            post ? "wait after auth" : "wait before auth",
            input,
            raw.text.slice(mark, mark + 200),
          );
          continue;
        }
        let outcome = outcomeOf(raw.text.slice(mark));
        // What followed <starttls/> was taken for a ClientHello and failed the handshake; the
        // reset that ends the connection may discard the <proceed/> before it is read.
        if (outcome === "drop" && expected.tls && !post) outcome = "tls";
        report.outcomes[outcome] = (report.outcomes[outcome] ?? 0) + 1;
        if (outcome === "drop") {
          report.drops++;
          sample(
            `drop (expected ${expected.error ?? "no error"})`,
            input,
            raw.text.slice(mark, mark + 200),
          );
        }
      } finally {
        raw.close();
      }
    }
  };

  await Promise.all(Array.from({ length: options.workers }, (_, i) => worker(i)));
  await bystander;
  clearInterval(sampler);
  report.maxRssBytes = Math.max(report.maxRssBytes, options.rss());
  const sorted = latencies.sort((a, b) => a - b);
  report.pingP50Ms = percentile(sorted, 0.5);
  report.pingP99Ms = percentile(sorted, 0.99);
  report.pingMaxMs = sorted.at(-1) ?? 0;
  return report;
}
