// The server under test as a child process, optionally pinned to one CPU, with its pid (for
// /proc) and its output kept for the report. tests/_process.ts does the same without the pid.
import { SERVER_PERMISSIONS, serverV8Flags } from "./_child.ts";
import { fileURLToPath as fromFileUrl } from "node:url";

export const MAIN = fromFileUrl(new URL("../../main.ts", import.meta.url));
const KEEP_OUTPUT_CHARS = 64 * 1024;

/** How to start the server. */
export interface SpawnOptions {
  /**
   * Arguments after `main.ts start` (port 0, no direct TLS and bind 127.0.0.1 are added), or
   * after `script` if one is given.
   */
  args: string[];
  /** Another server script to run instead of Verona (it prints the same listening line). */
  script?: string;
  /** CPU list for `taskset -c`, or undefined to run unpinned. */
  pinCpus?: string;
  /** Longest wait for the listening line. */
  startTimeoutMs: number;
}

/** A running server. */
export interface BenchServer {
  pid: number;
  port: number;
  /** The command line that started it. */
  command: string[];
  /** What it printed (the last 64 KiB of each stream). */
  stdout(): string;
  stderr(): string;
  /** Every stderr line so far, grouped by {@linkcode logKind}, most frequent first. */
  logKinds(): [string, number][];
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended. */
  stop(
    graceMs: number,
  ): Promise<{ code: number; signal: string | null; killed: boolean; ms: number }>;
}

/**
 * Starts `options.script`, or `verona start --port 0 --direct-tls-port 0 --http-port 0 --https-port 0 --s2s-port 0 --bind 127.0.0.1 ...` and waits for its
 * listening line.
 */
export async function spawnServer(options: SpawnOptions): Promise<BenchServer> {
  const verona = [
    MAIN,
    "start",
    "--port",
    "0",
    "--direct-tls-port",
    "0",
    "--http-port",
    "0",
    "--https-port",
    "0",
    "--s2s-port",
    "0",
    "--bind",
    "127.0.0.1",
  ];
  const denoArgs = [
    "run",
    ...serverV8Flags(),
    ...SERVER_PERMISSIONS,
    ...(options.script === undefined ? verona : [options.script]),
    ...options.args,
  ];
  const command = options.pinCpus === undefined
    ? [Deno.execPath(), ...denoArgs]
    : ["taskset", "-c", options.pinCpus, Deno.execPath(), ...denoArgs];
  // taskset execs the program, so the child's pid is the server's.
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let out = "";
  let err = "";
  let portSeen: (port: number) => void = () => {};
  const port = new Promise<number>((resolve) => portSeen = resolve);
  const keep = (text: string) =>
    text.length > KEEP_OUTPUT_CHARS ? text.slice(-KEEP_OUTPUT_CHARS) : text;
  const pump = async (stream: ReadableStream<Uint8Array>, add: (text: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) add(decoder.decode(chunk, { stream: true }));
  };
  const outDone = pump(child.stdout, (text) => {
    out = keep(out + text);
    const match = out.match(/listening[^\n]* on [^ ]+:(\d+) for/);
    if (match) portSeen(Number(match[1]));
  });
  const kinds = new Map<string, number>();
  let partial = "";
  const errDone = pump(child.stderr, (text) => {
    err = keep(err + text);
    const lines = (partial + text).split("\n");
    partial = lines.pop()!;
    for (const line of lines) {
      if (line.trim() === "") continue;
      const kind = logKind(line);
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
  });

  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    port,
    child.status.then(() => "exited" as const),
    new Promise<"timeout">((resolve) =>
      timer = setTimeout(() => resolve("timeout"), options.startTimeoutMs)
    ),
  ]);
  clearTimeout(timer);
  if (typeof outcome !== "number") {
    if (outcome === "timeout") child.kill("SIGKILL");
    await child.status;
    await Promise.allSettled([outDone, errDone]);
    throw new Error(
      `Cannot start the server (${
        outcome === "timeout" ? "no listening line in time" : "it exited"
      }): ${command.join(" ")}\nstdout: ${out}\nstderr: ${err}`,
    );
  }

  let stopped: ReturnType<BenchServer["stop"]> | undefined;
  return {
    pid: child.pid,
    port: outcome,
    command,
    stdout: () => out,
    stderr: () => err,
    logKinds: () => {
      const all = new Map(kinds);
      if (partial.trim() !== "") all.set(logKind(partial), (all.get(logKind(partial)) ?? 0) + 1);
      return [...all].sort((a, b) => b[1] - a[1]);
    },
    stop(graceMs) {
      stopped ??= (async () => {
        const started = performance.now();
        let killed = false;
        try {
          child.kill("SIGTERM");
        } catch {
          // already gone
        }
        let graceTimer: ReturnType<typeof setTimeout> | undefined;
        const exited = await Promise.race([
          child.status.then(() => true),
          new Promise<false>((resolve) => graceTimer = setTimeout(() => resolve(false), graceMs)),
        ]);
        clearTimeout(graceTimer);
        if (!exited) {
          killed = true;
          try {
            child.kill("SIGKILL");
          } catch {
            // gone meanwhile
          }
        }
        const status = await child.status;
        await Promise.allSettled([outDone, errDone]);
        return {
          code: status.code,
          signal: status.signal,
          killed,
          ms: performance.now() - started,
        };
      })();
      return stopped;
    },
  };
}

/**
 * A log line with its timestamp, stream id, bench account numbers and other numbers masked, so that
 * 500 "c2s1f authenticated as bench31" lines count as one kind.
 */
export function logKind(line: string): string {
  return line
    .replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /, "")
    .replace(/\bc2s[0-9a-z]+\b/g, "<stream>")
    .replace(/bench\d+/g, "benchN")
    .replace(/\d+/g, "N");
}
