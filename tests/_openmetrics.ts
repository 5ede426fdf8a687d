// A small strict parser of the OpenMetrics 1.0 text format, for tests: every line must be a
// TYPE, UNIT or HELP line of the current family or a sample of it, the exposition ends with
// `# EOF` and a newline, escapes are only \\, \" and \n, and sample names carry the suffixes
// their family's type allows. Throws naming the line that is wrong.

/** One sample line. */
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One metric family. */
export interface ParsedFamily {
  type: string;
  help?: string;
  unit?: string;
  samples: ParsedSample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const TYPES = new Set([
  "counter",
  "gauge",
  "summary",
  "histogram",
  "gaugehistogram",
  "stateset",
  "info",
  "unknown",
]);
const SUFFIXES: Record<string, string[]> = {
  counter: ["_total", "_created"],
  gauge: [""],
  summary: ["", "_count", "_sum", "_created"],
  histogram: ["_bucket", "_count", "_sum", "_created"],
  unknown: [""],
};
const NUMBER = /^(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|[+-]Inf)$/;

function unescape(text: string, where: string): string {
  return text.replace(/\\(.?)/g, (_, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    if (c === '"') return '"';
    throw new Error(`${where}: bad escape \\${c}`);
  });
}

function parseValue(text: string, where: string): number {
  if (!NUMBER.test(text)) throw new Error(`${where}: bad number ${JSON.stringify(text)}`);
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

/** Parses `text`; every family by name. */
export function parseOpenMetrics(text: string): Map<string, ParsedFamily> {
  if (!text.endsWith("# EOF\n")) throw new Error("does not end with # EOF and a newline");
  const lines = text.slice(0, -"# EOF\n".length).split("\n");
  lines.pop(); // the text before "# EOF" ends with a newline: an empty last piece
  const families = new Map<string, ParsedFamily>();
  let current: { name: string; family: ParsedFamily; sampled: boolean } | null = null;
  lines.forEach((line, i) => {
    const where = `line ${i + 1} ${JSON.stringify(line)}`;
    const meta = new RegExp(`^# (TYPE|HELP|UNIT) (${NAME})(?: (.*))?$`).exec(line);
    if (line.startsWith("#")) {
      if (meta === null) throw new Error(`${where}: not a TYPE, HELP or UNIT line`);
      const [, kind, name, rest = ""] = meta;
      if (kind === "TYPE") {
        if (families.has(name)) throw new Error(`${where}: family ${name} declared twice`);
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type ${rest}`);
        const family: ParsedFamily = { type: rest, samples: [] };
        families.set(name, family);
        current = { name, family, sampled: false };
        return;
      }
      if (current === null || current.name !== name || current.sampled) {
        throw new Error(`${where}: ${kind} outside its family's metadata`);
      }
      if (kind === "HELP") {
        if (current.family.help !== undefined) throw new Error(`${where}: second HELP`);
        current.family.help = unescape(rest, where);
      } else {
        if (current.family.unit !== undefined) throw new Error(`${where}: second UNIT`);
        if (rest !== "" && !name.endsWith(`_${rest}`)) {
          throw new Error(`${where}: the name does not end with _${rest}`);
        }
        current.family.unit = rest;
      }
      return;
    }
    const sample = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (\\S+))?$`).exec(line);
    if (sample === null) throw new Error(`${where}: not a sample`);
    const [, name, labelText, valueText] = sample;
    if (current === null) throw new Error(`${where}: a sample before any TYPE`);
    const suffixes = SUFFIXES[current.family.type] ?? [""];
    if (!suffixes.some((suffix) => name === current!.name + suffix)) {
      throw new Error(
        `${where}: ${name} is not a sample of ${current.family.type} ${current.name}`,
      );
    }
    const labels: Record<string, string> = {};
    if (labelText !== undefined && labelText !== "") {
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"(,|$)/;
      let rest = labelText;
      while (rest !== "") {
        const match = label.exec(rest);
        if (match === null) throw new Error(`${where}: bad labels`);
        if (match[1] in labels) throw new Error(`${where}: label ${match[1]} twice`);
        labels[match[1]] = unescape(match[2], where);
        rest = rest.slice(match[0].length);
        if (match[3] === "," && rest === "") throw new Error(`${where}: trailing comma`);
      }
    }
    const value = parseValue(valueText, where);
    if (current.family.type === "counter" && !(value >= 0)) {
      throw new Error(`${where}: a counter must not be negative`);
    }
    current.sampled = true;
    current.family.samples.push({ name, labels, value });
  });
  return families;
}

/** The value of the sample `name` whose labels include `labels`; undefined when absent. */
export function sampleValue(
  families: Map<string, ParsedFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (
        sample.name === name &&
        Object.entries(labels).every(([key, value]) => sample.labels[key] === value)
      ) return sample.value;
    }
  }
  return undefined;
}
