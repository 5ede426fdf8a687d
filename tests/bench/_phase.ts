// What the phases of the load benchmark share: the run's state, /proc samples around a phase,
// timeouts, a bounded pool of concurrent work, and the figures of a delivery phase (throughput,
// latency quantiles, server CPU per delivery).
import type { BenchClient } from "./_bench_client.ts";
import { cpuMs, rssKiB } from "./_proc.ts";

/** A delivery phase ends early (reporting what is missing) after this long without a delivery. */
export const STALL_MS = 10_000;
/** Above this share of one core the generator itself may be what limits the figures. */
export const SATURATED = 0.9;

/** What every phase reads of the options. */
export interface PhaseOptions {
  /** Longest a phase may take. */
  timeoutMs: number;
  /** Logins, joins and other setup steps in progress at once. */
  concurrency: number;
  /** The XMPP domain. */
  domain: string;
}

/** Where the measurement stands: what the phases share. */
export interface Bench<O extends PhaseOptions = PhaseOptions> {
  options: O;
  host: string;
  port: number;
  serverPid?: number;
  ticks: number;
  clients: BenchClient[];
  /** Set when the run is being torn down: loops stop starting work. */
  aborted: boolean;
}

/** CPU and wall clock at one moment. */
export interface Sample {
  at: number;
  serverCpuMs: number;
  generatorCpuMs: number;
}

/** The CPU time of both sides now. */
export async function sample(bench: Bench): Promise<Sample> {
  const before = performance.now();
  const [serverCpuMs, generatorCpuMs] = await Promise.all([
    bench.serverPid === undefined ? NaN : cpuMs(bench.serverPid, bench.ticks),
    cpuMs(Deno.pid, bench.ticks),
  ]);
  // Reading /proc takes a child process (about a millisecond): stamp the middle of it.
  return { at: (before + performance.now()) / 2, serverCpuMs, generatorCpuMs };
}

/** The server's resident memory in KiB; NaN when it was not started here. */
export function serverRss(bench: Bench): Promise<number> {
  return bench.serverPid === undefined ? Promise.resolve(NaN) : rssKiB(bench.serverPid);
}

/** What two samples say: wall time, CPU of each side, and each side's share of one core. */
export function usage(from: Sample, to: Sample, endAt = to.at) {
  const wallMs = endAt - from.at;
  const serverCpuMs = to.serverCpuMs - from.serverCpuMs;
  const generatorCpuMs = to.generatorCpuMs - from.generatorCpuMs;
  return {
    wallMs: round(wallMs, 1),
    serverCpuMs: round(serverCpuMs, 0),
    serverCpuShare: round(serverCpuMs / (to.at - from.at), 2),
    generatorCpuMs: round(generatorCpuMs, 0),
    generatorCpuShare: round(generatorCpuMs / (to.at - from.at), 2),
  };
}

export function round(value: number, digits: number): number {
  if (!Number.isFinite(value)) return NaN;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Rejects with a clear message if `work` has not settled within the phase timeout. */
export async function withinPhase<T>(bench: Bench, phase: string, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `Phase "${phase}" did not complete within ${bench.options.timeoutMs / 1000} s: aborted`,
          ),
        ),
      bench.options.timeoutMs,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } catch (error) {
    bench.aborted = true;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `work(0..count-1)` with at most `concurrency` in progress; stops early on abort. */
export async function pool(
  bench: Bench,
  count: number,
  concurrency: number,
  work: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count && !bench.aborted) {
      const index = next++;
      try {
        await work(index);
      } catch (error) {
        bench.aborted = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (bench.aborted) throw new Error("aborted");
}

/** What a delivery phase hands to {@linkcode timeDeliveries}. */
export interface DeliveryRun {
  /** Sends the first window of messages. */
  kickOff(): void;
  /** Settles when every message is delivered or bounced. */
  done: Promise<void>;
  /** Ends the wait early (a stall). */
  finished(): void;
  /** When the last delivery or bounce arrived. */
  lastAt(): number;
  delivered(): number;
  /** Stops listening to the clients. */
  detach(): void;
}

/**
 * Runs a delivery phase between two /proc samples: the clock starts at the first send, a
 * watchdog ends the phase after STALL_MS without a delivery.
 */
export async function timeDeliveries(bench: Bench, phase: string, run: DeliveryRun) {
  let stalled = false;
  const start = await sample(bench);
  const watchdog = setInterval(() => {
    if (performance.now() - Math.max(run.lastAt(), start.at) > STALL_MS) {
      stalled = true;
      run.finished();
    }
  }, 250);
  start.at = performance.now(); // after reading /proc
  try {
    run.kickOff();
    await withinPhase(bench, phase, run.done);
  } finally {
    clearInterval(watchdog);
    run.detach();
  }
  const end = await sample(bench);
  return { stalled, used: usage(start, end, run.delivered() > 0 ? run.lastAt() : end.at) };
}

/** The `q` quantile of durations in ms (sorted in place), to 0.01 ms; NaN when there are none. */
export function quantileMs(durations: Float64Array, q: number): number {
  if (durations.length === 0) return NaN;
  const sorted = durations.sort();
  return round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))], 2);
}

/** Throughput, latency quantiles and CPU per delivery of a delivery phase. */
export function deliveryFigures(
  latencies: Float64Array,
  delivered: number,
  used: ReturnType<typeof usage>,
) {
  latencies.sort();
  const quantile = (q: number) => quantileMs(latencies, q);
  return {
    deliveriesPerSecond: round(delivered / (used.wallMs / 1000), 0),
    latencyMsP50: quantile(0.5),
    latencyMsP99: quantile(0.99),
    latencyMsMax: quantile(1),
    serverCpuUsPerDelivery: round(used.serverCpuMs * 1000 / delivered, 1),
    ...used,
    generatorSaturated: used.generatorCpuShare >= SATURATED,
  };
}

/** What {@linkcode deliveryFigures} reports, which every delivery phase's result includes. */
export type DeliveryFigures = ReturnType<typeof deliveryFigures>;
