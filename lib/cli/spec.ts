// `verona spec`: replays scansion scripts (.scs) against any XMPP server, like a real client.
import { parseArgs } from "node:util";
import { formatFailure, runScript } from "../replay/run.ts";
import { parseScript, ScriptError } from "../replay/parse.ts";
import { SUPPORTED_MECHANISMS } from "../replay/client.ts";

const USAGE = `Usage: verona spec --host HOST --port PORT [options] FILE...

Replays scansion scripts (Prosody's integration-test format, *.scs) against an XMPP
server, one client connection per [Client] of the script. Each client connects like a
real client: STARTTLS when offered, or TLS from the first byte with --direct-tls (the
certificate is not verified), SASL, resource binding. The accounts of the scripts'
[Client] sections (jid: and password:) must already exist on the target server: this
command creates none.

Options:
  --host HOST        server to connect to (the stream's domain is each JID's domain)
  --port PORT        its client port, e.g. 5222
  --direct-tls       the port speaks TLS from the first byte (XEP-0368), e.g. 5223
  --timeout MS       longest wait for each receives step and each login answer
                     (default 5000)
  --mechanism M      SASL mechanism to use; repeat to give a preference order
                     (default: ${SUPPORTED_MECHANISMS.join(", ")}; the strongest offered wins)
  -h, --help         show this help

Prints "ok  FILE (N steps)" or "FAIL FILE" with the failing step, then a summary.
Exit code: 0 if every script passed, 1 if any failed, 2 on a usage error.`;

class UsageError extends Error {}

/** Runs `verona spec` with the arguments after the command name; returns the exit code. */
export async function specCommand(args: string[]): Promise<number> {
  let options;
  try {
    options = readOptions(args);
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof TypeError)) throw error;
    console.error(`error: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (options === "help") {
    console.log(USAGE);
    return 0;
  }

  let passed = 0;
  let failed = 0;
  for (const file of options.files) {
    const outcome = await replayFile(file, options);
    if (outcome.ok) {
      passed++;
      console.log(`ok  ${file} (${outcome.steps} steps)`);
    } else {
      failed++;
      console.log(`FAIL ${file}\n${outcome.report}\n`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

interface SpecOptions {
  host: string;
  port: number;
  directTls: boolean;
  timeoutMs?: number;
  mechanisms?: string[];
  files: string[];
}

function readOptions(args: string[]): SpecOptions | "help" {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      "direct-tls": { type: "boolean" },
      timeout: { type: "string" },
      mechanism: { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  if (values.host === undefined || values.host === "") throw new UsageError("--host is required");
  if (values.port === undefined) throw new UsageError("--port is required");
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port < 1 || port > 65535) {
    throw new UsageError(`--port must be an integer from 1 to 65535, got "${values.port}"`);
  }
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    timeoutMs = Number(values.timeout);
    if (!/^\d+$/.test(values.timeout) || timeoutMs < 1) {
      throw new UsageError(
        `--timeout must be a positive number of milliseconds, got "${values.timeout}"`,
      );
    }
  }
  for (const mechanism of values.mechanism ?? []) {
    if (!SUPPORTED_MECHANISMS.includes(mechanism)) {
      throw new UsageError(
        `--mechanism "${mechanism}" is not supported (supported: ${
          SUPPORTED_MECHANISMS.join(", ")
        })`,
      );
    }
  }
  if (positionals.length === 0) throw new UsageError("no script FILE given");
  return {
    host: values.host,
    port,
    directTls: values["direct-tls"] ?? false,
    timeoutMs,
    mechanisms: values.mechanism,
    files: positionals,
  };
}

async function replayFile(
  file: string,
  options: SpecOptions,
): Promise<{ ok: true; steps: number } | { ok: false; report: string }> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    return { ok: false, report: `${file}: cannot read: ${(error as Error).message}` };
  }
  let script;
  try {
    script = parseScript(text, file);
  } catch (error) {
    if (!(error instanceof ScriptError)) throw error;
    return { ok: false, report: error.message };
  }
  const result = await runScript(script, options);
  return result.ok ? result : { ok: false, report: formatFailure(result, file) };
}
