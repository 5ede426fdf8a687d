// Running a parsed scansion script against a server, one ReplayClient per [Client].
// SPEC-FORMAT.md "What a client does" and "How receives matches".
import { parseJid } from "../jid/mod.ts";
import { type Element, Element as XmlElement } from "../xml/mod.ts";
import { now } from "./_clock.ts";
import { prettyXml } from "./_pretty.ts";
import { type ReceivedStanza, ReplayClient } from "./client.ts";
import {
  BlockError,
  forSending,
  matchStanza,
  parseBlock,
  substituteVariables,
  type VariableForm,
} from "./match.ts";
import type { Script, Step } from "./parse.ts";

const DEFAULT_TIMEOUT_MS = 5000;
const CLEANUP_TIMEOUT_MS = 2000;
/** How many stanzas skipped by earlier steps a timeout report shows. */
const SHOW_EARLIER = 3;

/** Where to run a script, and how patiently. */
export interface RunOptions {
  host: string;
  port: number;
  /** The port speaks TLS from the first byte (XEP-0368); default false (STARTTLS). */
  directTls?: boolean;
  /** Longest wait for each `receives` step, and for each answer while connecting (default 5000 ms). */
  timeoutMs?: number;
  /** SASL mechanisms in order of preference (default: SCRAM-SHA-256, SCRAM-SHA-1, PLAIN). */
  mechanisms?: string[];
}

/** The step that failed, what it expected and what arrived instead (pretty-printed XML). */
export interface RunFailure {
  line: number;
  /** The action, e.g. `Romeo receives:`. */
  step: string;
  message: string;
  expected?: string;
  received: string[];
}

/** The outcome of `runScript()`. */
export type RunResult = { ok: true; steps: number } | { ok: false; failure: RunFailure };

/** What `pickMatch()` found in a receive queue. */
export type Pick =
  /** `queue[index]` matches; the stanzas before it arrived before the previous step and are skipped. */
  | { kind: "match"; index: number }
  /** `queue[index]` arrived since the previous step started and does not match: the step fails. */
  | { kind: "mismatch"; index: number; reason: string }
  /** Nothing matches; the first `skipped` stanzas (all of the queue) are old and skipped. */
  | { kind: "wait"; skipped: number };

/**
 * The receive rule, without the waiting: queued stanzas that arrived before
 * `previousStepStart` and do not match are skipped; the first that arrived at or after
 * it must match. `captures` changes only on a match.
 */
export function pickMatch(
  queue: readonly ReceivedStanza[],
  expected: Element,
  previousStepStart: number,
  captures: Map<string, string>,
): Pick {
  for (let index = 0; index < queue.length; index++) {
    const { stanza, at } = queue[index];
    const result = matchStanza(expected, stanza, captures);
    if (result.ok) return { kind: "match", index };
    if (at >= previousStepStart) return { kind: "mismatch", index, reason: result.reason };
  }
  return { kind: "wait", skipped: queue.length };
}

/**
 * Runs `script` against the server at `options.host`:`options.port` and reports the
 * first failing step. Every connection is closed at the end, pass or fail.
 *
 * @example
 * ```ts
 * const result = await runScript(parseScript(text, path), { host: "127.0.0.1", port: 5222 });
 * if (!result.ok) console.log(formatFailure(result, path));
 * ```
 */
export async function runScript(script: Script, options: RunOptions): Promise<RunResult> {
  const run = new Run(script, options);
  try {
    let previousStart = -Infinity;
    for (const step of script.steps) {
      const start = now();
      let failure: RunFailure | undefined;
      try {
        failure = await run.step(step, previousStart);
      } catch (error) {
        failure = run.failure(step, error instanceof Error ? error.message : String(error));
      }
      if (failure !== undefined) return { ok: false, failure };
      previousStart = start;
    }
    return { ok: true, steps: script.steps.length };
  } finally {
    await run.closeAll();
  }
}

class Run {
  #script: Script;
  #options: RunOptions;
  #timeoutMs: number;
  #clients = new Map<string, ReplayClient>();
  #fullJids = new Map<string, string>();
  #captures = new Map<string, string>();
  /** Per client, the latest stanzas that receives steps skipped, for timeout reports. */
  #skippedEarlier = new Map<string, { line: number; stanza: Element }[]>();

  constructor(script: Script, options: RunOptions) {
    this.#script = script;
    this.#options = options;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Runs one step; undefined when it passed. */
  step(step: Step, previousStart: number): Promise<RunFailure | undefined> {
    switch (step.action) {
      case "connects":
        return this.#connects(step);
      case "disconnects":
        return this.#disconnects(step);
      case "sends":
        return this.#sends(step);
      case "receives":
        return this.#receives(step, previousStart);
    }
  }

  failure(step: Step, message: string, extra: Partial<RunFailure> = {}): RunFailure {
    const colon = step.action === "sends" || step.action === "receives" ? ":" : "";
    return {
      line: step.line,
      step: `${step.client} ${step.action}${colon}`,
      message,
      received: [],
      ...extra,
    };
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#clients.values()].map(async (client) => {
      try {
        await client.disconnect(Math.min(this.#timeoutMs, CLEANUP_TIMEOUT_MS));
      } catch {
        client.close();
      }
    }));
    this.#clients.clear();
  }

  async #connects(step: Step): Promise<RunFailure | undefined> {
    const old = this.#clients.get(step.client);
    if (old !== undefined && !old.closed) {
      return this.failure(step, `${step.client} is already connected`);
    }
    old?.close();
    const declared = this.#script.clients.get(step.client)!;
    const client = new ReplayClient();
    this.#clients.set(step.client, client);
    try {
      await client.connect({
        host: this.#options.host,
        port: this.#options.port,
        directTls: this.#options.directTls,
        jid: declared.jid,
        password: declared.password,
        resource: declared.resource,
        mechanisms: this.#options.mechanisms,
        timeoutMs: this.#timeoutMs,
      });
    } catch (error) {
      return this.failure(step, error instanceof Error ? error.message : String(error), {
        received: streamErrorOf(client),
      });
    }
    this.#fullJids.set(step.client, client.fullJid);
    return undefined;
  }

  async #disconnects(step: Step): Promise<RunFailure | undefined> {
    const client = this.#clients.get(step.client);
    if (client === undefined) return this.failure(step, `${step.client} is not connected`);
    this.#clients.delete(step.client);
    try {
      await client.disconnect(this.#timeoutMs);
    } catch (error) {
      return this.failure(step, error instanceof Error ? error.message : String(error));
    }
    return undefined;
  }

  async #sends(step: Step): Promise<RunFailure | undefined> {
    const client = this.#clients.get(step.client);
    if (client === undefined || client.closed) {
      return this.failure(
        step,
        `${step.client} is not connected (${client?.closeReason ?? "no connects step"})`,
        {
          received: client === undefined ? [] : streamErrorOf(client),
        },
      );
    }
    const stanzas = this.#block(step);
    if (!Array.isArray(stanzas)) return stanzas;
    try {
      for (const stanza of stanzas) client.send(forSending(stanza));
      await client.sync(this.#timeoutMs);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      return this.failure(
        step,
        `the server did not confirm that it processed the stanza(s): ${why}`,
        {
          received: streamErrorOf(client),
        },
      );
    }
    return undefined;
  }

  async #receives(step: Step, previousStart: number): Promise<RunFailure | undefined> {
    const client = this.#clients.get(step.client);
    if (client === undefined) return this.failure(step, `${step.client} is not connected`);
    const stanzas = this.#block(step);
    if (!Array.isArray(stanzas)) return stanzas;
    const deadline = performance.now() + this.#timeoutMs;
    for (let k = 0; k < stanzas.length; k++) {
      const expected = stanzas[k];
      const which = stanzas.length > 1 ? `stanza ${k + 1} of ${stanzas.length}: ` : "";
      const skipped: ReceivedStanza[] = [];
      for (;;) {
        const pick = pickMatch(client.queue, expected, previousStart, this.#captures);
        if (pick.kind === "match") {
          skipped.push(...client.drop(pick.index));
          client.drop(1);
          break;
        }
        if (pick.kind === "mismatch") {
          const [received] = client.drop(pick.index + 1).slice(-1);
          return this.failure(
            step,
            `${which}received a stanza that does not match: ${pick.reason}`,
            {
              expected: prettyXml(expected),
              received: [prettyXml(received.stanza)],
            },
          );
        }
        skipped.push(...client.drop(pick.skipped));
        const remaining = deadline - performance.now();
        try {
          if (remaining <= 0) throw new Error(`nothing within ${this.#timeoutMs} ms`);
          await client.waitForStanza({ timeoutMs: remaining, remove: false });
        } catch {
          this.#rememberSkipped(step, skipped);
          const why = client.closed && client.queue.length === 0
            ? `the connection ended: ${client.closeReason}`
            : `no matching stanza within ${this.#timeoutMs} ms`;
          let note = "";
          let shown = skipped.map((r) => r.stanza);
          if (skipped.length > 0) {
            note = `; ${skipped.length} stanza(s) that arrived before the previous step did not ` +
              "match and were skipped (shown below)";
          } else {
            const earlier = (this.#skippedEarlier.get(step.client) ?? []).slice(-SHOW_EARLIER);
            if (earlier.length > 0) {
              const lines = [...new Set(earlier.map((e) => e.line))].join(", ");
              note = `; nothing else arrived (below: the last ${earlier.length} stanza(s) that ` +
                `earlier receives steps skipped, at line(s) ${lines})`;
              shown = earlier.map((e) => e.stanza);
            }
          }
          return this.failure(step, `${which}${why}${note}`, {
            expected: prettyXml(expected),
            received: [...shown.map((s) => prettyXml(s)), ...streamErrorOf(client)],
          });
        }
      }
      this.#rememberSkipped(step, skipped);
    }
    return undefined;
  }

  #rememberSkipped(step: Step, skipped: ReceivedStanza[]): void {
    if (skipped.length === 0) return;
    const list = this.#skippedEarlier.get(step.client) ?? [];
    list.push(...skipped.map((r) => ({ line: step.line, stanza: r.stanza })));
    this.#skippedEarlier.set(step.client, list.slice(-SHOW_EARLIER));
  }

  /** The step's stanzas, with variables substituted; a failure if that is impossible. */
  #block(step: Step): Element[] | RunFailure {
    try {
      const xml = substituteVariables(step.xml ?? "", (name, form) => this.#variable(name, form));
      return parseBlock(xml);
    } catch (error) {
      if (!(error instanceof BlockError)) throw error;
      return this.failure(step, `line ${step.line + error.line}: ${error.message}`);
    }
  }

  #variable(name: string, form: VariableForm): string {
    const declared = this.#script.clients.get(name);
    if (declared === undefined) throw new Error(`no client "${name}"`);
    if (form === "JID") return parseJid(declared.jid).bare;
    const full = this.#fullJids.get(name);
    if (full === undefined) throw new Error(`${name} has not connected yet`);
    return full;
  }
}

function streamErrorOf(client: ReplayClient): string[] {
  const error = client.streamError;
  if (error === undefined) return [];
  return [prettyXml(new XmlElement("stream:error", {}, error.element.children), "")];
}

/** Options of `formatFailure()`. */
export interface FormatOptions {
  /** Columns available; default: the terminal's, or one column when not on a terminal. */
  width?: number;
}

/**
 * Renders a result for people: `file:line: step`, the message, then the expected and
 * received stanzas side by side when the width allows, else one after the other.
 */
export function formatFailure(
  result: RunResult,
  origin: string,
  options: FormatOptions = {},
): string {
  if (result.ok) return `${origin}: ok (${result.steps} steps)`;
  const { failure } = result;
  const out = [`${origin}:${failure.line}: ${failure.step}`];
  for (const line of failure.message.split("\n")) out.push("  " + line);
  const received = failure.received.length === 0
    ? ["  (nothing)"]
    : failure.received.flatMap((xml, i) => [...(i > 0 ? [""] : []), ...indent(xml)]);
  if (failure.expected === undefined) {
    if (failure.received.length > 0) out.push("received:", ...received);
    return out.join("\n");
  }
  const left = ["expected:", ...indent(failure.expected)];
  const right = ["received:", ...received];
  const leftWidth = Math.max(...left.map((l) => l.length));
  const rightWidth = Math.max(...right.map((l) => l.length));
  const width = options.width ?? terminalWidth();
  if (width !== undefined && leftWidth + 3 + rightWidth <= width) {
    for (let i = 0; i < Math.max(left.length, right.length); i++) {
      out.push(`${(left[i] ?? "").padEnd(leftWidth)} | ${right[i] ?? ""}`.trimEnd());
    }
  } else {
    out.push(...left, ...right);
  }
  return out.join("\n");
}

function indent(xml: string): string[] {
  return xml.split("\n").map((line) => "  " + line);
}

function terminalWidth(): number | undefined {
  try {
    return Deno.stdout.isTerminal() ? Deno.consoleSize().columns : undefined;
  } catch {
    return undefined;
  }
}
