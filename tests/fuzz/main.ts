// The long fuzz run: `deno task fuzz --minutes N [--seed S] [--workers W]`.
//
// First the parser alone (mutated client streams and spec stanzas at random chunk
// boundaries, checked as in lib/xml/stream_parser_fuzz_test.ts) for a sixth of the time; then a
// real server process (`verona start`, fresh data dir, input shaping raised as in
// tests/fuzz/live.ts) for the rest, fed mutated input before and after authentication while a
// bystander pings it. Prints the figures and exits 1 on any failure.
import { parseArgs } from "node:util";
import { join } from "node:path";
import { mutate, Prng, randomChunks, runParser } from "../../lib/xml/_fuzz.ts";
import { startServerProcess, verona } from "../_process.ts";
import { loadCorpus } from "./corpus.ts";
import { FUZZ_RATES, runLiveFuzz } from "./live.ts";

const ACCOUNT: [string, string] = ["romeo", "r0me0-fuzz"];
const BYSTANDER: [string, string] = ["nurse", "nurse-fuzz"];

/** Samples a process's resident set size (its /proc status, read by cat: Deno grants /proc only to --allow-all). */
function rssSampler(pid: number) {
  const sampled = { rss: 0, peak: 0, gone: false };
  const read = async () => {
    const { stdout, success } = await new Deno.Command("cat", {
      args: [`/proc/${pid}/status`],
      stdout: "piped",
      stderr: "null",
    }).output();
    const status = new TextDecoder().decode(stdout);
    if (!success || /^State:\s+Z/m.test(status)) {
      sampled.gone = true;
      return;
    }
    sampled.rss = Number(status.match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? 0) * 1024;
    sampled.peak = Number(status.match(/^VmHWM:\s+(\d+) kB/m)?.[1] ?? 0) * 1024;
  };
  const timer = setInterval(() => void read().catch(() => {}), 250);
  return { sampled, read, stop: () => clearInterval(timer) };
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Parser-only fuzzing until `ms` pass; returns failures and counts. */
async function fuzzParser(seed: number, ms: number) {
  const corpus = await loadCorpus();
  const encoder = new TextEncoder();
  const header = encoder.encode(corpus.streams[0].slice(0, corpus.streams[0].indexOf(">", 30) + 1));
  const streams = corpus.streams.map((s) => encoder.encode(s));
  const stanzas = corpus.stanzas.map((s) => encoder.encode(s));
  const rng = new Prng(seed);
  const conditions: Record<string, number> = {};
  const failures: string[] = [];
  let inputs = 0, slowest = 0, maxHeap = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const afterHeader = rng.chance(0.5);
    let input: Uint8Array = afterHeader ? rng.pick(stanzas) : rng.pick(streams);
    for (let k = 1 + rng.int(3); k > 0; k--) {
      const other = afterHeader ? rng.pick(stanzas) : rng.pick(streams);
      input = mutate(input, rng, { other, maxRepeat: 1 << 20 }).bytes;
    }
    const prefix = afterHeader ? [header] : [];
    const started = performance.now();
    try {
      const whole = runParser([...prefix, input]);
      const split = runParser([...prefix, ...randomChunks(input, rng)]);
      if (JSON.stringify(whole) !== JSON.stringify(split)) {
        throw new Error("chunking changed the outcome");
      }
      if (whole.errors.length > 1 || whole.late > 0) throw new Error("more than one error");
      for (const c of whole.errors) conditions[c] = (conditions[c] ?? 0) + 1;
      if (whole.errors.length === 0) {
        conditions[whole.closed ? "(closed)" : "(no error)"] =
          (conditions[whole.closed ? "(closed)" : "(no error)"] ?? 0) + 1;
      }
    } catch (error) {
      if (failures.length < 10) {
        failures.push(
          `${error instanceof Error ? error.message : error}: ${
            JSON.stringify(new TextDecoder().decode(input.subarray(0, 200)))
          }`,
        );
      } else failures.length++;
    }
    slowest = Math.max(slowest, (performance.now() - started) / 2);
    maxHeap = Math.max(maxHeap, Deno.memoryUsage().heapUsed);
    inputs++;
    if (inputs % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return { inputs, conditions, failures, slowest, maxHeap };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      minutes: { type: "string", default: "1" },
      seed: { type: "string", default: String(Date.now() % 1_000_000) },
      workers: { type: "string", default: "4" },
    },
  });
  const totalMs = Number(values.minutes) * 60_000;
  const seed = Number(values.seed);
  console.log(`fuzz: ${values.minutes} min, seed ${seed}, ${values.workers} workers`);

  const parserMs = totalMs / 6;
  const parser = await fuzzParser(seed, parserMs);
  console.log(
    `parser: ${parser.inputs} inputs in ${(parserMs / 1000).toFixed(0)} s, outcomes ${
      JSON.stringify(parser.conditions)
    }, ` +
      `${parser.failures.length} failures, slowest input ${
        parser.slowest.toFixed(1)
      } ms, max heap ${mib(parser.maxHeap)}`,
  );
  for (const f of parser.failures) console.log(`  ${f}`);

  const dataDir = await Deno.makeTempDir({ prefix: "verona-fuzz-" });
  const configPath = join(dataDir, "verona.toml");
  await Deno.writeTextFile(
    configPath,
    `domain = "localhost"\n[limits]\n` +
      `preauth_rate_bytes = ${FUZZ_RATES.preauthRateBytes}\npreauth_burst_bytes = ${FUZZ_RATES.preauthBurstBytes}\n` +
      `c2s_rate_bytes = ${FUZZ_RATES.c2sRateBytes}\nc2s_burst_bytes = ${FUZZ_RATES.c2sBurstBytes}\n`,
  );
  const common = ["--config", configPath, "--data", dataDir];
  for (const [user, password] of [ACCOUNT, BYSTANDER]) {
    const added = await verona(["adduser", `${user}@localhost`, password, ...common]);
    if (added.code !== 0) throw new Error(`Cannot create ${user}: ${added.stderr}`);
  }
  const server = await startServerProcess(common);
  const memory = rssSampler(server.pid);
  await memory.read();
  const live = await runLiveFuzz({
    port: server.port,
    corpus: await loadCorpus(),
    seed,
    durationMs: totalMs - parserMs,
    workers: Number(values.workers),
    account: ACCOUNT,
    bystander: BYSTANDER,
    timeoutMs: 5000,
    maxRepeat: 1 << 20,
    rss: () => memory.sampled.rss,
    alive: () => !memory.sampled.gone,
    rates: FUZZ_RATES,
    log: (line) => console.log(`  ${line}`),
  });
  await memory.read();
  memory.stop();
  const peak = memory.sampled.peak;
  const code = await server.stop();
  const output = server.stdout() + server.stderr();
  const internal = output.split("\n").filter((l) => /error handling|Uncaught|panicked/.test(l));
  await Deno.remove(dataDir, { recursive: true });

  console.log(
    `live: ${live.inputs} inputs (${live.preAuth} before auth, ${live.postAuth} after), ` +
      `${live.servedPings} complete inputs then a ping served`,
  );
  const outcomes = Object.entries(live.outcomes).sort((a, b) => b[1] - a[1]);
  console.log(`  outcomes: ${outcomes.map(([k, n]) => `${k} ${n}`).join(", ")}`);
  console.log(
    `  waits ${live.waits}, drops ${live.drops}, setup failures ${live.setupFailures}, ` +
      `crashed ${live.crashed}, internal errors logged ${internal.length}, exit code ${code}`,
  );
  console.log(`  server RSS max ${mib(live.maxRssBytes)} (sampled), VmHWM ${mib(peak)}`);
  console.log(
    `  bystander: ${live.bystanderPings} pings, ${live.bystanderFailures} failures, ` +
      `p50 ${live.pingP50Ms.toFixed(1)} ms, p99 ${live.pingP99Ms.toFixed(1)} ms, max ${
        live.pingMaxMs.toFixed(1)
      } ms`,
  );
  for (const s of live.samples) console.log(`  ${s}`);
  for (const l of internal.slice(0, 5)) console.log(`  ${l}`);
  const failed = parser.failures.length > 0 || live.waits > 0 || live.drops > 0 || live.crashed ||
    live.bystanderFailures > 0 || internal.length > 0 || live.setupFailures > 0;
  Deno.exit(failed ? 1 : 0);
}
