// What Linux tells about a process (proc(5)): CPU time and resident memory, and CPU pinning
// with taskset(1). Everything degrades to "unknown" off Linux.

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`; 100 if unknown). */
export async function clockTicks(): Promise<number> {
  try {
    const { stdout, success } = await new Deno.Command("getconf", {
      args: ["CLK_TCK"],
      stdout: "piped",
      stderr: "null",
    }).output();
    const ticks = Number(new TextDecoder().decode(stdout).trim());
    if (success && Number.isFinite(ticks) && ticks > 0) return ticks;
  } catch {
    // no getconf: fall through
  }
  return 100;
}

/**
 * The text of a /proc file. Deno grants /proc only to --allow-all, which the bench task does not
 * have, so the file is read by cat(1) (--allow-run) when reading it directly is refused.
 */
async function readProc(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    // NotCapable without --allow-all: ask cat
  }
  try {
    const { stdout, success } = await new Deno.Command("cat", {
      args: [path],
      stdout: "piped",
      stderr: "null",
    }).output();
    return success ? new TextDecoder().decode(stdout) : undefined;
  } catch {
    return undefined;
  }
}

/** User + system CPU time of a process in milliseconds (all threads), or NaN if unreadable. */
export async function cpuMs(pid: number, ticksPerSecond: number): Promise<number> {
  const stat = await readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return NaN;
  // The command name (field 2) may contain spaces: fields are counted after its closing ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]); // field 14
  const stime = Number(fields[12]); // field 15
  return (utime + stime) * 1000 / ticksPerSecond;
}

/** Waits until a process's CPU use stays below 5 % for half a second (at most `maxMs`). */
export async function cpuQuiet(pid: number, ticksPerSecond: number, maxMs = 15_000): Promise<void> {
  const until = performance.now() + maxMs;
  let last = await cpuMs(pid, ticksPerSecond);
  while (performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = await cpuMs(pid, ticksPerSecond);
    if (!(now - last > 25)) return; // also ends on NaN (process gone)
    last = now;
  }
}

/** Resident set size of a process in KiB (VmRSS), or NaN if unreadable. */
export async function rssKiB(pid: number): Promise<number> {
  const status = await readProc(`/proc/${pid}/status`);
  const match = status?.match(/^VmRSS:\s+(\d+) kB/m);
  return match ? Number(match[1]) : NaN;
}

/** Whether an executable named `name` is on PATH. */
export function onPath(name: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return true;
    } catch {
      // not here
    }
  }
  return false;
}

/**
 * Pins every thread of process `pid` to `cpus` (a taskset list such as "1" or "1-3").
 * Returns false if taskset failed.
 */
export async function pinProcess(pid: number, cpus: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("taskset", {
      args: ["-a", "-p", "-c", cpus, String(pid)],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}
