// Reading scansion scripts (.scs): header with [Client] objects, then the steps.
// SPEC-FORMAT.md "Layout of a file".
import { JidError, parseJid } from "../jid/mod.ts";
import { BlockError, parseBlock, substituteVariables } from "./match.ts";

/** A client declared in the header. */
export interface ScriptClient {
  name: string;
  /** The `jid:` property as written. */
  jid: string;
  password: string;
  /** The `resource:` property, if given. */
  resource?: string;
  /** The line of its `[Client]` heading. */
  line: number;
}

/** One action of the script. */
export interface Step {
  /** The line of the action (its XML block starts on the next line). */
  line: number;
  client: string;
  action: "connects" | "disconnects" | "sends" | "receives";
  /** The indented block of `sends` and `receives`, as written (trailing blank lines dropped). */
  xml?: string;
}

/** A parsed script. */
export interface Script {
  /** The first comment line, without its marker; "" if the file has none. */
  title: string;
  clients: Map<string, ScriptClient>;
  steps: Step[];
}

/** A script that cannot be read; the message starts with `file:line:`. */
export class ScriptError extends Error {
  readonly origin: string;
  readonly line: number;

  constructor(origin: string, line: number, message: string) {
    super(`${origin}:${line}: ${message}`);
    this.name = "ScriptError";
    this.origin = origin;
    this.line = line;
  }
}

const HEADER_END = /^-{3,}\s*$/;
const COMMENT = /^(#|\/\/|--)(.*)$/;
const OBJECT = /^\[([^\]]*)\]\s*(.*?)\s*$/;
const PROPERTY = /^[ \t]+([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*?)\s*$/;
const ACTION = /^(.+?)[ \t]+(connects|disconnects|sends|receives)(:?)[ \t]*$/;
const PROPERTIES = new Set(["jid", "password", "resource"]);

/**
 * Parses a scansion script. `origin` (usually the file name) prefixes error messages.
 * Every XML block is also checked here: its variables must name declared clients and
 * it must be well-formed, so a broken script fails before it connects anywhere.
 *
 * @example
 * ```ts
 * const script = parseScript(await Deno.readTextFile(path), path);
 * script.steps[0]; // { line: 13, client: "Romeo", action: "connects" }
 * ```
 */
export function parseScript(text: string, origin: string): Script {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const fail: (line: number, message: string) => never = (line, message) => {
    throw new ScriptError(origin, line, message);
  };

  const headerEnd = lines.findIndex((line) => HEADER_END.test(line));
  if (headerEnd === -1) {
    fail(1, "no end of header: a line of three or more dashes (---) must follow the clients");
  }

  let title: string | undefined;
  const clients = new Map<string, ScriptClient>();
  let current: (ScriptClient & { seen: Set<string> }) | undefined;
  const finishClient = () => {
    if (current === undefined) return;
    for (const key of ["jid", "password"] as const) {
      if (!current.seen.has(key)) fail(current.line, `client "${current.name}" has no ${key}:`);
    }
    const { seen: _, ...client } = current;
    clients.set(client.name, client);
    current = undefined;
  };

  for (let i = 0; i < headerEnd; i++) {
    const number = i + 1;
    const line = lines[i];
    const trimmed = line.trim();
    if (trimmed === "") continue;
    const comment = COMMENT.exec(trimmed);
    if (comment !== null) {
      const words = comment[2].trim();
      if (title === undefined && words !== "") title = words;
      continue;
    }
    const object = OBJECT.exec(line);
    if (object !== null) {
      finishClient();
      const [, kind, name] = object;
      if (kind !== "Client") fail(number, `unknown object [${kind}] (only [Client] exists)`);
      if (name === "") fail(number, "[Client] needs a name");
      if (clients.has(name)) fail(number, `client "${name}" is declared twice`);
      current = { name, jid: "", password: "", line: number, seen: new Set() };
      continue;
    }
    const property = PROPERTY.exec(line);
    if (property !== null) {
      const [, key, value] = property;
      if (current === undefined) fail(number, `property "${key}" outside of a [Client]`);
      const client = current;
      if (!PROPERTIES.has(key)) {
        fail(number, `unknown client property "${key}" (known: jid, password, resource)`);
      }
      if (client.seen.has(key)) fail(number, `property "${key}" given twice`);
      client.seen.add(key);
      if (key === "jid") {
        client.jid = value;
        try {
          if (parseJid(value).local === "") fail(number, `jid "${value}" has no localpart`);
        } catch (error) {
          if (!(error instanceof JidError)) throw error;
          fail(number, error.message);
        }
      } else if (key === "password") client.password = value;
      else {
        if (value === "") fail(number, "resource: is empty");
        client.resource = value;
      }
      continue;
    }
    fail(number, `cannot read header line: ${JSON.stringify(line)}`);
  }
  finishClient();

  const steps: Step[] = [];
  let block: { step: Step; lines: string[] } | undefined;
  const finishBlock = () => {
    if (block === undefined) return;
    const { step, lines: blockLines } = block;
    while (blockLines.length > 0 && blockLines.at(-1)!.trim() === "") blockLines.pop();
    if (blockLines.length === 0) fail(step.line, `"${step.action}" has no indented XML block`);
    step.xml = blockLines.join("\n");
    checkBlock(step, clients, fail);
    block = undefined;
  };

  for (let i = headerEnd + 1; i < lines.length; i++) {
    const number = i + 1;
    const line = lines[i];
    if (line.trim() === "") {
      block?.lines.push("");
      continue;
    }
    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (block !== undefined) block.lines.push(line);
      else if (!COMMENT.test(line.trim())) {
        fail(number, "indented line outside of a sends/receives block");
      }
      continue;
    }
    finishBlock();
    if (COMMENT.test(line)) continue;
    const action = ACTION.exec(line);
    if (action === null) fail(number, `cannot read line: ${JSON.stringify(line)}`);
    const [, name, verb, colon] = action;
    if (!clients.has(name)) {
      fail(number, `unknown client "${name}" (declared: ${[...clients.keys()].join(", ")})`);
    }
    if (colon !== "" && (verb === "connects" || verb === "disconnects")) {
      fail(number, `"${verb}" takes no colon`);
    }
    const step: Step = { line: number, client: name, action: verb as Step["action"] };
    steps.push(step);
    if (verb === "sends" || verb === "receives") block = { step, lines: [] };
  }
  finishBlock();

  return { title: title ?? "", clients, steps };
}

/** Checks variables against the declared clients and the block's XML, with stand-in JIDs. */
function checkBlock(
  step: Step,
  clients: Map<string, ScriptClient>,
  fail: (line: number, message: string) => never,
): void {
  try {
    const xml = substituteVariables(step.xml!, (name, form) => {
      const client = clients.get(name);
      if (client === undefined) throw new Error(`no client "${name}"`);
      const bare = parseJid(client.jid).bare;
      return form === "JID" ? bare : `${bare}/resource`;
    });
    parseBlock(xml);
  } catch (error) {
    if (!(error instanceof BlockError)) throw error;
    fail(step.line + error.line, error.message);
  }
}
