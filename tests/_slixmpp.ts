// The Python interpreter that has slixmpp, and running the client programs of tests/clients/ that
// drive it: each prints one JSON line per step ({"step", "ok", ...facts}).
import { strict as assert } from "node:assert";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestServer, type TestServer } from "./_harness.ts";

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

/** The test accounts, in order: Romeo, Juliet and the nurse. */
const ACCOUNTS: [string, string][] = [
  ["romeo", "montague-1"],
  ["juliet", "capulet-2"],
  ["nurse", "angelica-3"],
];

/** The first `count` test accounts, for `startTestServer`. */
export function slixmppAccounts(count = ACCOUNTS.length): [string, string][] {
  return ACCOUNTS.slice(0, count);
}

/** The --user1 NAME:PASSWORD ... arguments for the first `count` test accounts. */
export function userArgs(count = ACCOUNTS.length): string[] {
  return slixmppAccounts(count).flatMap(([name, password], i) => [
    `--user${i + 1}`,
    `${name}:${password}`,
  ]);
}

/** The interpreter the slixmpp tests run, found once. */
const PYTHON = await findSlixmppPython();

/**
 * A Deno test that runs `fn` with the interpreter that has slixmpp; without one, it is ignored
 * and its name says why (`what` names it then).
 */
export function slixmppTest(
  name: string,
  what: string,
  fn: (python: string) => Promise<void>,
): void {
  Deno.test({
    name: slixmppTestName(PYTHON, name, what),
    ignore: PYTHON === undefined,
    fn: () => fn(PYTHON!),
  });
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
  // The programs `import _steps` from their own directory: put it on the path even when
  // PYTHONSAFEPATH would leave the script's directory off, and write no __pycache__ there (-B).
  const pythonPath = [dirname(path), Deno.env.get("PYTHONPATH")].filter(Boolean).join(delimiter);
  const output = await new Deno.Command(python, {
    args: ["-B", path, ...options.args],
    env: { PYTHONPATH: pythonPath },
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

/** Runs `--flow flow` of `program` against a fresh server with all the test accounts. */
export async function runSlixmppFlow(
  program: string,
  flow: string,
  args: string[] = [],
): Promise<SlixmppRun> {
  await using test = await startTestServer({ accounts: slixmppAccounts() });
  return await runSlixmpp(PYTHON!, program, {
    args: ["--flow", flow, ...serverArgs(test), ...userArgs(), ...args],
  });
}
