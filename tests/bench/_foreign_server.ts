// Another XMPP server (Prosody, ejabberd) as a child process of the comparison benchmark: started
// in the foreground with its own configuration, optionally pinned to one CPU, ready once its
// client port accepts connections, and stopped (SIGTERM, then SIGKILL) whatever happens.
// tests/bench/_server.ts does the same for Verona, which prints the port it listens on.

const KEEP_OUTPUT_CHARS = 64 * 1024;

/** How to start the server. */
export interface ForeignSpawnOptions {
  /** Program and arguments. */
  command: string[];
  /** Added to this process's environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** CPU list for `taskset -c`, or undefined to run unpinned. */
  pinCpus?: string;
  /** Ports on 127.0.0.1 that must accept connections before the server counts as started. */
  ports: number[];
  startTimeoutMs: number;
}

/** A running server. */
export interface ForeignServer {
  pid: number;
  /** The command line that started it. */
  command: string[];
  /** What it printed on stdout and stderr (the last 64 KiB). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended. */
  stop(graceMs: number): Promise<{ code: number; signal: string | null; killed: boolean }>;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
async function accepting(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Starts the server and waits until every port in `options.ports` accepts connections. */
export async function spawnForeign(options: ForeignSpawnOptions): Promise<ForeignServer> {
  const command = options.pinCpus === undefined
    ? options.command
    : ["taskset", "-c", options.pinCpus, ...options.command];
  // taskset execs the program (and erl and prosody exec theirs): the child's pid is the server's.
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      out += decoder.decode(chunk, { stream: true });
      if (out.length > KEEP_OUTPUT_CHARS) out = out.slice(-KEEP_OUTPUT_CHARS);
    }
  };
  const pumped = Promise.allSettled([pump(child.stdout), pump(child.stderr)]);
  let exited = false;
  child.status.then(() => exited = true);

  let stopped: ReturnType<ForeignServer["stop"]> | undefined;
  const server: ForeignServer = {
    pid: child.pid,
    command,
    output: () => out,
    stop(graceMs) {
      stopped ??= (async () => {
        let killed = false;
        try {
          child.kill("SIGTERM");
        } catch {
          // already gone
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        const ended = await Promise.race([
          child.status.then(() => true),
          new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), graceMs)),
        ]);
        clearTimeout(timer);
        if (!ended) {
          killed = true;
          try {
            child.kill("SIGKILL");
          } catch {
            // gone meanwhile
          }
        }
        const status = await child.status;
        await pumped;
        return { code: status.code, signal: status.signal, killed };
      })();
      return stopped;
    },
  };

  const deadline = performance.now() + options.startTimeoutMs;
  for (const port of options.ports) {
    while (!await accepting(port)) {
      if (exited || performance.now() > deadline) {
        await server.stop(1000);
        throw new Error(
          `Cannot start ${command.join(" ")}: ${
            exited ? "it exited" : `port ${port} not open in time`
          }\n${out}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return server;
}

/** The installed version of a Debian package, or undefined if it is not installed. */
export async function debianVersion(name: string): Promise<string | undefined> {
  try {
    const { stdout, success } = await new Deno.Command("dpkg-query", {
      args: ["-W", "-f", "${Status} ${Version}", name],
      stdout: "piped",
      stderr: "null",
    }).output();
    const text = new TextDecoder().decode(stdout);
    const match = text.match(/^install ok installed (\S+)/);
    return success && match ? match[1] : undefined;
  } catch {
    return undefined;
  }
}

/** Runs a command to completion; fails with its output if it fails. */
export async function run(command: string[], env?: Record<string, string>): Promise<void> {
  const { success, stderr, stdout } = await new Deno.Command(command[0], {
    args: command.slice(1),
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) {
    const decoder = new TextDecoder();
    throw new Error(
      `${command.join(" ")} failed:\n${decoder.decode(stdout)}${decoder.decode(stderr)}`,
    );
  }
}

/**
 * Installs the Debian packages in `names` that are missing (apt-get update once, then apt-get
 * install), and stops the system services that installing them may have started: the benchmark
 * runs its own instances. Returns the names it installed.
 */
export async function ensureDebianPackages(names: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const name of names) if (await debianVersion(name) === undefined) missing.push(name);
  if (missing.length === 0) return [];
  await run(["apt-get", "update", "-qq"]);
  await run(["apt-get", "install", "-y", "-qq", ...missing], {
    DEBIAN_FRONTEND: "noninteractive",
  });
  for (const name of missing) {
    // Where a service manager started the packaged service, stop it; where none runs
    // (containers), this fails harmlessly.
    await run(["service", name, "stop"]).catch(() => {});
  }
  return missing;
}
