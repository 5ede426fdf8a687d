// The Python interpreter that has slixmpp, and running the client programs of tests/clients/ that
// drive it: each prints one JSON line per step ({"step", "ok", ...facts}).
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestServer } from "./_harness.ts";

/** Debian's python3-slixmpp installs into the system interpreter, which may not be first on PATH. */
const INTERPRETERS = ["/usr/bin/python3", "python3"];

/** The first interpreter that can import slixmpp, or undefined. */
export async function findSlixmppPython(): Promise<string | undefined> {
  for (const python of INTERPRETERS) {
    try {
      const probe = await new Deno.Command(python, {
        args: ["-c", "import slixmpp"],
        stdout: "null",
        stderr: "null",
        signal: AbortSignal.timeout(10_000),
      }).output();
      if (probe.success) return python;
    } catch {
      // not installed at this path
    }
  }
  return undefined;
}

/** The name of a slixmpp test, or one that says why it is ignored when slixmpp is missing. */
export function slixmppTestName(python: string | undefined, name: string, what: string): string {
  return python
    ? name
    : `${what} (ignored: no python3 with slixmpp; apt-get install python3-slixmpp)`;
}

/** One step a client program reported. */
export interface SlixmppStep {
  step: string;
  ok: boolean;
  error?: string;
  [fact: string]: unknown;
}

/** A finished run of a client program: its steps in order, and lookups of their facts. */
export class SlixmppRun {
  readonly code: number;
  readonly steps: SlixmppStep[];
  readonly stderr: string;

  constructor(code: number, steps: SlixmppStep[], stderr: string) {
    this.code = code;
    this.steps = steps;
    this.stderr = stderr;
  }

  /** The facts of each step called `name`, in order, without "step" and "ok". */
  facts(name: string): Record<string, unknown>[] {
    return this.steps.filter((step) => step.step === name).map(({ step: _, ok: __, ...rest }) =>
      rest
    );
  }

  /** The facts of the one step called `name`. */
  one(name: string): Record<string, unknown> {
    const found = this.facts(name);
    assert.equal(found.length, 1, `one "${name}" step in ${JSON.stringify(this.steps)}`);
    return found[0];
  }
}

/** The arguments every client program takes to reach a test server and trust its certificate. */
export function serverArgs(test: TestServer): string[] {
  return [
    "--host",
    "127.0.0.1",
    "--port",
    String(test.port),
    "--domain",
    "localhost",
    "--ca",
    join(test.dataDir, "localhost.crt"),
  ];
}

/**
 * Runs `tests/clients/<program>` to completion and fails, with the step, its error and the end
 * of stderr, when a step failed or the program did not exit 0.
 */
export async function runSlixmpp(
  python: string,
  program: string,
  options: { args: string[]; timeoutMs?: number },
): Promise<SlixmppRun> {
  const path = fileURLToPath(new URL(`./clients/${program}`, import.meta.url));
  const output = await new Deno.Command(python, {
    args: [path, ...options.args],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  }).output();
  const decoder = new TextDecoder();
  const steps = decoder.decode(output.stdout).split("\n").filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as SlixmppStep);
  const run = new SlixmppRun(output.code, steps, decoder.decode(output.stderr));
  const failed = steps.find((step) => !step.ok);
  if (failed || output.code !== 0) {
    assert.fail(
      `${program} failed at ${failed?.step ?? "?"}: ${failed?.error ?? `exit ${output.code}`}\n` +
        `stderr:\n${run.stderr.slice(-4000)}`,
    );
  }
  return run;
}
