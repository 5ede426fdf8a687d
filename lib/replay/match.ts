// Expected stanzas of scansion scripts: `${...}` variables, parsing an XML block into
// elements, and the comparison of an expected stanza with a received one
// (SPEC-FORMAT.md "How receives matches").
import { DOMParser } from "@xmldom/xmldom";
import { type Attrs, Element, escapeAttr, type XmlNode } from "../xml/mod.ts";
import { NS } from "../stanza/ns.ts";

/** The namespace of the `scansion:` attributes. */
export const SCANSION_NS = "https://matthewwild.co.uk/projects/scansion";

const XMLNS_NS = "http://www.w3.org/2000/xmlns/";
const ANY = "{scansion:any}";
const CAPTURE = /^\{scansion:capture:([^}]+)\}$/;
const VARIABLE = /\$\{([^}]*)\}/g;
const VARIABLE_NAME = /^(.+)'s (full JID|JID)$/;

/** A problem in an XML block; `line` counts from 1 at the block's first line. */
export class BlockError extends Error {
  readonly line: number;

  constructor(message: string, line: number) {
    super(message);
    this.name = "BlockError";
    this.line = line;
  }
}

/** The two variable forms: `${Name's JID}` (bare) and `${Name's full JID}` (bound). */
export type VariableForm = "JID" | "full JID";

/**
 * Replaces every `${...}` in `text`, as text, before the block is parsed. `resolve`
 * returns the value or throws an Error saying why there is none; the value is
 * XML-escaped so that the parsed attribute or text equals it exactly.
 *
 * @example
 * ```ts
 * substituteVariables("<a to='${Romeo's JID}'/>", () => "romeo@localhost");
 * // "<a to='romeo@localhost'/>"
 * ```
 */
export function substituteVariables(
  text: string,
  resolve: (client: string, form: VariableForm) => string,
): string {
  return text.replace(VARIABLE, (whole, inner: string, offset: number) => {
    const line = lineAt(text, offset);
    const parts = VARIABLE_NAME.exec(inner);
    if (parts === null) {
      throw new BlockError(
        `Cannot substitute ${whole}: unknown variable (use \${Name's JID} or \${Name's full JID})`,
        line,
      );
    }
    try {
      return escapeAttr(resolve(parts[1], parts[2] as VariableForm));
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new BlockError(`Cannot substitute ${whole}: ${why}`, line);
    }
  });
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Parses an XML block (one or more stanzas) in the default namespace `jabber:client`
 * with the `scansion:` prefix declared. Namespaces are resolved into `xmlns` where
 * they differ from the parent's (always on a top-level element), namespace
 * declarations are dropped, `scansion:` attributes are kept under that prefix,
 * comments are ignored. Throws `BlockError` on malformed XML.
 */
export function parseBlock(xml: string): Element[] {
  let problem: { message: string; line: number } | undefined;
  const parser = new DOMParser({
    onError(level, message, context) {
      const locator = (context as { locator?: { lineNumber?: number } } | undefined)?.locator;
      problem ??= { message: `${level}: ${message}`, line: locator?.lineNumber ?? 1 };
      throw new Error(message);
    },
  });
  // The wrapper's open tag shares the block's first line, so locator lines are block lines.
  const wrapped = `<scansion:block xmlns='${NS.CLIENT}' xmlns:scansion='${SCANSION_NS}'>` + xml +
    "</scansion:block>";
  let root: DomElement;
  try {
    root = parser.parseFromString(wrapped, "text/xml").documentElement as unknown as DomElement;
  } catch (error) {
    const { message, line } = problem ??
      { message: error instanceof Error ? error.message : String(error), line: 1 };
    throw new BlockError(`Cannot parse XML block: ${message}`, line);
  }
  const stanzas: Element[] = [];
  for (let node = root.firstChild; node !== null; node = node.nextSibling) {
    if (node.nodeType === ELEMENT_NODE) stanzas.push(fromDom(node as DomElement, undefined));
    else if (isText(node) && (node.data ?? "").trim() !== "") {
      throw new BlockError(
        `Cannot parse XML block: text outside of a stanza: "${(node.data ?? "").trim()}"`,
        node.lineNumber ?? 1,
      );
    } else if (node.nodeType === PROCESSING_INSTRUCTION_NODE) {
      throw new BlockError(
        "Cannot parse XML block: processing instructions are not allowed",
        node.lineNumber ?? 1,
      );
    }
  }
  if (stanzas.length === 0) throw new BlockError("Cannot parse XML block: no stanza in it", 1);
  return stanzas;
}

// The parts of xmldom's DOM that are read here.
const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;
const PROCESSING_INSTRUCTION_NODE = 7;
interface DomNode {
  nodeType: number;
  data?: string;
  lineNumber?: number;
  firstChild: DomNode | null;
  nextSibling: DomNode | null;
}
interface DomAttr {
  name: string;
  localName: string | null;
  prefix: string | null;
  namespaceURI: string | null;
  value: string;
}
interface DomElement extends DomNode {
  localName: string | null;
  nodeName: string;
  namespaceURI: string | null;
  attributes: { length: number; item(index: number): DomAttr | null };
}

function isText(node: DomNode): boolean {
  return node.nodeType === TEXT_NODE || node.nodeType === CDATA_SECTION_NODE;
}

function fromDom(node: DomElement, parentNs: string | undefined): Element {
  const ns = node.namespaceURI ?? "";
  const attrs: Attrs = {};
  if (ns !== parentNs) attrs.xmlns = ns;
  for (let i = 0; i < node.attributes.length; i++) {
    const attr = node.attributes.item(i)!;
    if (attr.namespaceURI === XMLNS_NS || attr.name === "xmlns" || attr.prefix === "xmlns") {
      continue; // a namespace declaration, already resolved into `xmlns`
    }
    if (attr.namespaceURI === SCANSION_NS) {
      const name = `scansion:${attr.localName}`;
      if (attr.localName !== "strict") {
        throw new BlockError(
          `Cannot parse XML block: unknown attribute ${attr.name} (only scansion:strict exists)`,
          node.lineNumber ?? 1,
        );
      }
      if (attr.value !== "true" && attr.value !== "false") {
        throw new BlockError(
          `Cannot parse XML block: ${attr.name}="${attr.value}" must be "true" or "false"`,
          node.lineNumber ?? 1,
        );
      }
      attrs[name] = attr.value;
      continue;
    }
    attrs[attr.name] = attr.value;
  }
  const children: XmlNode[] = [];
  for (let child = node.firstChild; child !== null; child = child.nextSibling) {
    if (child.nodeType === ELEMENT_NODE) children.push(fromDom(child as DomElement, ns));
    else if (isText(child)) {
      if (child.data) children.push(child.data);
    } else if (child.nodeType === PROCESSING_INSTRUCTION_NODE) {
      throw new BlockError(
        "Cannot parse XML block: processing instructions are not allowed",
        child.lineNumber ?? 1,
      );
    }
  }
  return new Element(node.localName ?? node.nodeName, attrs, children);
}

/**
 * The element as a client sends it: without `scansion:` attributes, and without the
 * whitespace-only text that contains a line break (the block's layout); other text
 * is kept as written.
 */
export function forSending(element: Element): Element {
  const attrs: Attrs = {};
  for (const key in element.attrs) {
    if (!key.startsWith("scansion:")) attrs[key] = element.attrs[key];
  }
  const children: XmlNode[] = [];
  for (const child of element.children) {
    if (typeof child !== "string") children.push(forSending(child));
    else if (child.trim() !== "" || !child.includes("\n")) children.push(child);
  }
  return new Element(element.name, attrs, children);
}

/** The outcome of a comparison; `reason` starts with the path of the first difference. */
export type MatchResult = { ok: true } | { ok: false; reason: string };

/**
 * Compares an expected stanza (from `parseBlock`) with a received one.
 *
 * Name and namespace must be equal; each expected attribute must be present with an
 * equal value, `{scansion:any}`, or `{scansion:capture:NAME}` (any value the first
 * time, the same value later); expected text, trimmed, must equal the received text,
 * trimmed, when it is not empty. The top-level element and the stanza's `<error/>`
 * are loose (extra attributes and children ignored, expected children matched to
 * distinct received children in any order), every other element strict (no extra
 * attributes, the same number of child elements, pairwise in order);
 * `scansion:strict="true|false"` sets the mode of its own element.
 *
 * `captures` is read, and updated only when the stanza matches.
 *
 * @example
 * ```ts
 * const [expected] = parseBlock("<presence from='{scansion:capture:room}'/>");
 * matchStanza(expected, received, captures); // { ok: true } or { ok: false, reason }
 * ```
 */
export function matchStanza(
  expected: Element,
  actual: Element,
  captures: Map<string, string>,
): MatchResult {
  const trial = new Map(captures);
  const reason = matchElement(expected, actual, {
    path: "/" + expected.name,
    expectedParentNs: undefined,
    actualParentNs: undefined,
    depth: 0,
    stanzaNs: undefined,
    captures: trial,
  });
  if (reason !== null) return { ok: false, reason };
  for (const [name, value] of trial) captures.set(name, value);
  return { ok: true };
}

/**
 * Throws an Error with the first difference unless `actual` matches `expectedXml`
 * (one stanza, no variables). For unit tests: the same "equal" as the spec scripts.
 */
export function assertStanza(actual: Element, expectedXml: string): void {
  const stanzas = parseBlock(expectedXml);
  if (stanzas.length !== 1) {
    throw new TypeError(`assertStanza() expects one stanza, got ${stanzas.length}`);
  }
  const result = matchStanza(stanzas[0], actual, new Map());
  if (!result.ok) {
    throw new Error(
      `Stanza does not match: ${result.reason}\n  expected: ${
        stanzas[0].toString(NS.CLIENT)
      }\n  received: ${actual.toString(NS.CLIENT)}`,
    );
  }
}

interface Context {
  path: string;
  expectedParentNs: string | undefined;
  actualParentNs: string | undefined;
  depth: number;
  /** The top-level element's namespace, once below it. */
  stanzaNs: string | undefined;
  captures: Map<string, string>;
}

/** Null when `actual` matches, else the reason; `ctx.captures` gets new bindings. */
function matchElement(expected: Element, actual: Element, ctx: Context): string | null {
  const { path } = ctx;
  const expectedNs = expected.attrs.xmlns ?? ctx.expectedParentNs ?? "";
  const actualNs = actual.attrs.xmlns ?? ctx.actualParentNs ?? "";
  if (expected.name !== actual.name || expectedNs !== actualNs) {
    return `${path}: expected <${expected.name} xmlns='${expectedNs}'>, received <${actual.name} xmlns='${actualNs}'>`;
  }
  const strict = isStrict(expected, ctx, expectedNs);

  for (const name in expected.attrs) {
    if (name === "xmlns" || name.startsWith("scansion:")) continue;
    const want = expected.attrs[name];
    const got = actual.attrs[name];
    if (got === undefined) {
      return `${path}: missing attribute ${name}="${want}"`;
    }
    if (want === ANY) continue;
    const capture = CAPTURE.exec(want);
    if (capture !== null) {
      const bound = ctx.captures.get(capture[1]);
      if (bound === undefined) ctx.captures.set(capture[1], got);
      else if (bound !== got) {
        return `${path}: attribute ${name}="${got}" differs from capture ${capture[1]}="${bound}"`;
      }
      continue;
    }
    if (want !== got) return `${path}: attribute ${name}: expected "${want}", received "${got}"`;
  }
  if (strict) {
    for (const name in actual.attrs) {
      if (name === "xmlns") continue;
      if (!(name in expected.attrs)) {
        return `${path}: unexpected attribute ${name}="${actual.attrs[name]}" (strict element)`;
      }
    }
  }

  const wantText = expected.getText().trim();
  if (wantText !== "") {
    const gotText = actual.getText().trim();
    if (wantText !== gotText) {
      return `${path}: text: expected "${wantText}", received "${gotText}"`;
    }
  }

  const wanted = expected.elements();
  const got = actual.elements();
  const childCtx = (index: number): Omit<Context, "captures"> => ({
    path: path + "/" + childSegment(wanted, index),
    expectedParentNs: expectedNs,
    actualParentNs: actualNs,
    depth: ctx.depth + 1,
    stanzaNs: ctx.depth === 0 ? expectedNs : ctx.stanzaNs,
  });

  if (strict) {
    if (wanted.length !== got.length) {
      return `${path}: expected ${wanted.length} child element(s) (${
        names(wanted)
      }), received ${got.length} (${names(got)}) (strict element)`;
    }
    for (let i = 0; i < wanted.length; i++) {
      const reason = matchElement(wanted[i], got[i], { ...childCtx(i), captures: ctx.captures });
      if (reason !== null) return reason;
    }
    return null;
  }
  return matchLooseChildren(wanted, got, ctx, childCtx);
}

/** Loose: each expected child matches a different received child; backtracks over choices. */
function matchLooseChildren(
  wanted: Element[],
  got: Element[],
  ctx: Context,
  childCtx: (index: number) => Omit<Context, "captures">,
): string | null {
  if (wanted.length === 0) return null;
  // Adding captures only ever constrains, so a pair that fails now fails in every branch.
  const candidates: number[][] = wanted.map((want, i) => {
    const fits: number[] = [];
    for (let j = 0; j < got.length; j++) {
      if (
        matchElement(want, got[j], { ...childCtx(i), captures: new Map(ctx.captures) }) === null
      ) {
        fits.push(j);
      }
    }
    return fits;
  });
  for (let i = 0; i < wanted.length; i++) {
    if (candidates[i].length > 0) continue;
    const want = wanted[i];
    const c = childCtx(i);
    const wantNs = want.attrs.xmlns ?? c.expectedParentNs ?? "";
    const sameName = got.find((g) =>
      g.name === want.name && (g.attrs.xmlns ?? c.actualParentNs ?? "") === wantNs
    );
    if (sameName !== undefined) {
      return matchElement(want, sameName, { ...c, captures: new Map(ctx.captures) });
    }
    return `${c.path}: no child <${want.name} xmlns='${wantNs}'> received (children: ${
      names(got)
    })`;
  }

  const used = new Set<number>();
  const search = (i: number, captures: Map<string, string>): Map<string, string> | null => {
    if (i === wanted.length) return captures;
    for (const j of candidates[i]) {
      if (used.has(j)) continue;
      const trial = new Map(captures);
      if (matchElement(wanted[i], got[j], { ...childCtx(i), captures: trial }) !== null) continue;
      used.add(j);
      const found = search(i + 1, trial);
      if (found !== null) return found;
      used.delete(j);
    }
    return null;
  };
  const found = search(0, ctx.captures);
  if (found === null) {
    return `${ctx.path}: the expected children (${names(wanted)}) cannot each match a ` +
      `different received child (${names(got)})`;
  }
  for (const [name, value] of found) ctx.captures.set(name, value);
  return null;
}

function isStrict(expected: Element, ctx: Context, ns: string): boolean {
  const marked = expected.attrs["scansion:strict"];
  if (marked !== undefined) return marked === "true";
  if (ctx.depth === 0) return false;
  // A stanza's <error/> is loose: servers add <text/> and application conditions.
  if (ctx.depth === 1 && expected.name === "error" && ns === ctx.stanzaNs) return false;
  return true;
}

function childSegment(siblings: Element[], index: number): string {
  const name = siblings[index].name;
  const same = siblings.filter((s) => s.name === name);
  if (same.length === 1) return name;
  return `${name}[${same.indexOf(siblings[index]) + 1}]`;
}

function names(elements: Element[]): string {
  return elements.length === 0 ? "none" : elements.map((e) => e.name).join(", ");
}
