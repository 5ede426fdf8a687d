// Running Verona as a real child process, the way an admin does.
import { fileURLToPath as fromFileUrl } from "node:url";

export const MAIN = fromFileUrl(new URL("../main.ts", import.meta.url));
const PERMISSIONS = ["--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-sys"];

/** Runs `verona <args>` to completion. */
export async function verona(
  args: string[],
  options: { cwd?: string; entry?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, options.entry ?? MAIN, ...args],
    cwd: options.cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A server process started with `verona start`, listening on a port it picked. */
export interface ServerProcess {
  port: number;
  pid: number;
  stdout: () => string;
  stderr: () => string;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/** Starts `verona start --port 0 --direct-tls-port 0 --http-port 0 --https-port 0 --s2s-port 0 ...` and waits for its listening line. */
export async function startServerProcess(
  args: string[],
  options: { cwd?: string; entry?: string } = {},
): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...PERMISSIONS,
      options.entry ?? MAIN,
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
      ...args,
    ],
    cwd: options.cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let stdout = "";
  let stderr = "";
  const decoder = new TextDecoder();
  const stderrDone = child.stderr.pipeTo(
    new WritableStream({ write: (chunk) => void (stderr += decoder.decode(chunk)) }),
  );
  const reader = child.stdout.getReader();
  const readRest = async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      stdout += decoder.decode(value);
    }
  };
  const deadline = Date.now() + 30_000;
  let port = 0;
  while (port === 0) {
    const timeout = new Promise<null>((resolve) =>
      setTimeout(() => resolve(null), deadline - Date.now())
    );
    const next = await Promise.race([reader.read(), timeout]);
    if (next === null || next.done) {
      child.kill("SIGKILL");
      throw new Error(`server did not start; stdout: ${stdout}\nstderr: ${stderr}`);
    }
    stdout += decoder.decode(next.value);
    const match = stdout.match(/on [^ ]+:(\d+) for/);
    if (match) port = Number(match[1]);
  }
  const rest = readRest();
  return {
    port,
    pid: child.pid,
    stdout: () => stdout,
    stderr: () => stderr,
    async stop(signal: Deno.Signal = "SIGTERM") {
      child.kill(signal);
      const status = await child.status;
      await rest;
      await stderrDone;
      return status.code;
    },
  };
}
