// What the benchmarks need to run child processes: the permissions a server and a benchmark
// script run with, and the lines of a child's output as they come.

/** Permissions of a Verona server process (as `deno task start`). */
export const SERVER_PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
];

/**
 * The `--v8-flags` argument of a server process: `extra` and the flags in `BENCH_V8_FLAGS`
 * (comma-separated, e.g. `--max-semi-space-size=4` to try a smaller young generation).
 */
export function serverV8Flags(extra: string[] = []): string[] {
  const flags = [...extra, ...(Deno.env.get("BENCH_V8_FLAGS") ?? "").split(",")]
    .filter((flag) => flag !== "");
  return flags.length === 0 ? [] : [`--v8-flags=${flags.join(",")}`];
}

/** Permissions of a benchmark script run as a child (it starts processes of its own). */
export const SCRIPT_PERMISSIONS = [...SERVER_PERMISSIONS, "--allow-run"];

/** The lines of a byte stream. */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let partial = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (partial + text).split("\n");
    partial = parts.pop()!;
    yield* parts;
  }
  if (partial !== "") yield partial;
}
