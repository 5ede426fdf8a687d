// The fuzz corpus: real client streams (lib/xml/_fuzz.ts), the stanzas that every spec script
// sends (spec/**/*.scs), and the raw inputs of the socket tests (tests/*.ts).
import { fileURLToPath } from "node:url";
import { join, relative } from "node:path";
import { CLIENT_STANZAS, clientStreams } from "../../lib/xml/_fuzz.ts";
import { parseScript } from "../../lib/replay/parse.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Stanzas for a bound session and complete pre-authentication streams. */
export interface Corpus {
  /** Top-level elements a client sends, one per entry. */
  stanzas: string[];
  /** Byte streams from the very first byte (header included). */
  streams: string[];
}

/**
 * Stanzas that would change the fuzzing accounts themselves (cancel the registration, change
 * the password), which later logins depend on.
 */
const HARMFUL = /jabber:iq:register/;

async function* files(dir: string, suffix: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* files(path, suffix);
    else if (entry.name.endsWith(suffix)) yield path;
  }
}

/** Fills in `${...}` variables with plausible values. */
function fillVariables(xml: string): string {
  return xml.replace(/\$\{([^}]*)\}/g, (_, name: string) => {
    if (/JID/i.test(name)) return "juliet@localhost/balcony";
    if (/nick/i.test(name)) return "romeo";
    return "x1";
  });
}

/** Reads the corpus from the repository. */
export async function loadCorpus(): Promise<Corpus> {
  const stanzas = new Set<string>(CLIENT_STANZAS.filter((s) => s.trim().startsWith("<")));
  for await (const path of files(join(ROOT, "spec"), ".scs")) {
    let script;
    try {
      script = parseScript(await Deno.readTextFile(path), relative(ROOT, path));
    } catch {
      continue;
    }
    for (const step of script.steps) {
      if (step.action !== "sends" || !step.xml) continue;
      // Indentation is the script's, not the client's: keep it, it is whitespace text anyway.
      const xml = fillVariables(step.xml.trim());
      if (!HARMFUL.test(xml)) stanzas.add(xml);
    }
  }
  const streams = new Set<string>(clientStreams());
  // String literals the socket tests send raw (their malformed inputs included).
  for await (const path of files(join(ROOT, "tests"), "_test.ts")) {
    if (path.includes("fuzz")) continue;
    const text = await Deno.readTextFile(path);
    for (const m of text.matchAll(/raw\.send\(\s*"((?:[^"\\]|\\.)*)"/g)) {
      try {
        const literal = JSON.parse(`"${m[1]}"`) as string;
        if (literal.startsWith("<?xml") || literal.startsWith("<stream")) streams.add(literal);
        else if (!HARMFUL.test(literal)) stanzas.add(literal);
      } catch {
        // not a plain literal
      }
    }
  }
  return { stanzas: [...stanzas], streams: [...streams] };
}
