// Incremental XMPP stream parser (RFC 6120 §4, restricted XML §11.1) on saxes.
//
// Bytes go in at any boundary (even inside a UTF-8 sequence); out come the
// stream header, one Element per top-level stanza, and the stream close.
//
// Every chunk is first run through a small byte-level scanner that knows just
// enough XML lexing (tags, attribute values, CDATA, the XML declaration) to
// count, in bytes as received, the stanza, the stream header, each name,
// attribute value and text run, the attributes of an element and the nesting
// depth. It stops at the first byte that breaks a limit or a lexical rule, and
// saxes is fed only what lies before that byte: a violation costs work in
// proportion to the limit, never to the input, and nothing after it is parsed.
// Any handler error also stops saxes at once (by throwing through it), so the
// rest of a chunk is never parsed after an error.
//
// Conditions (RFC 6120 §4.9.3): `policy-violation` for a limit, `restricted-xml`
// for DTDs, comments, processing instructions and undeclared entities,
// `bad-format` for a second stream header inside the stream, `unsupported-encoding` for a
// declared encoding other than UTF-8 or a UTF-16 byte order mark (RFC 6120 §11.6), and
// `not-well-formed` for everything else that is not XML (invalid UTF-8,
// characters XML forbids, broken syntax, text outside stanzas).
import { SaxesParser, type SaxesTagNS } from "saxes";
import { Element } from "./element.ts";
import { WholeStanzaReader } from "./whole_stanza.ts";

/** Stream error conditions the parser itself can raise. */
export type ParserErrorCondition =
  | "not-well-formed"
  | "restricted-xml"
  | "policy-violation"
  | "bad-format"
  | "unsupported-encoding";

/** What the parser reports to its owner. */
export interface StreamParserHandlers {
  /** The stream's root element opened: local name, namespace and attributes. */
  streamOpen(name: string, ns: string, attrs: Record<string, string>): void;
  /** A complete top-level element. */
  stanza(stanza: Element): void;
  /** The root element closed. */
  streamClose(): void;
  /** The input broke a rule; the parser accepts nothing more. */
  error(condition: ParserErrorCondition, text: string): void;
}

/**
 * Limits, in bytes as received (UTF-16 code units for {@linkcode StreamParser.writeText}).
 * Each is checked as the bytes arrive, before the token or stanza completes.
 */
export interface StreamParserLimits {
  /** Largest stanza, from its `<` to its last `>`; also bounds a whitespace run between stanzas (default 256 KiB). */
  maxStanzaSize?: number;
  /** Deepest nesting inside a stanza, the stanza itself being 1 (default 32). */
  maxDepth?: number;
  /** Largest stream header, with the XML declaration before it (default 8 KiB). */
  maxHeaderSize?: number;
  /** Most attributes (namespace declarations included) on the stream header (default 32). */
  maxHeaderAttributes?: number;
  /** Longest attribute value on the stream header (default 3 KiB: a JID is at most 3071 bytes). */
  maxHeaderAttributeSize?: number;
  /** Most attributes on one element of a stanza (default 64). */
  maxAttributes?: number;
  /** Longest element or attribute name, prefix included (default 1 KiB). */
  maxNameSize?: number;
}

/** How the parser reads; for tests that compare its two ways. */
export interface StreamParserOptions {
  /**
   * Read stanzas that arrive whole in plain XML with {@linkcode WholeStanzaReader} instead of
   * saxes (default true); saxes reads everything else either way.
   */
  wholeStanzas?: boolean;
}

export const DEFAULT_MAX_STANZA_SIZE = 256 * 1024;
export const DEFAULT_MAX_DEPTH = 32;
export const DEFAULT_MAX_HEADER_SIZE = 8 * 1024;
export const DEFAULT_MAX_HEADER_ATTRIBUTES = 32;
export const DEFAULT_MAX_HEADER_ATTRIBUTE_SIZE = 3 * 1024;
export const DEFAULT_MAX_ATTRIBUTES = 64;
export const DEFAULT_MAX_NAME_SIZE = 1024;

const NS_STREAMS = "http://etherx.jabber.org/streams";

/** Thrown through saxes to stop it in the middle of a chunk. */
const STOP = Symbol("stop");

/** An incremental parser for one XML stream; `reset()` starts a new stream (after STARTTLS, SASL). */
export class StreamParser {
  #handlers: StreamParserHandlers;
  #limits: Required<StreamParserLimits>;
  /** Made on demand, and dropped with the saxes parser by {@linkcode release}. */
  #decoder: TextDecoder | null = null;
  /**
   * Made on the first input of each stream, and dropped by {@linkcode release} while the stream
   * idles between stanzas (a saxes parser is a few KiB, the largest part of an idle session).
   */
  #parser: SaxesParser<{ xmlns: true }> | null = null;
  /** The stream header's qualified name and namespace declarations, to re-open it after release. */
  #root: { name: string; ns: Record<string, string> } | null = null;
  /** True while a new parser reads the re-opened header: its events are not the peer's. */
  #priming = false;
  #scanner!: Scanner;
  #stack: Element[] = [];
  #depth = 0;
  #failed = false;
  #closed = false;
  /** True while saxes is running: a failure then throws to stop it. */
  #inSaxes = false;
  /** Bumped by reset(): events of the previous stream are not delivered. */
  #generation = 0;
  /** Events of the current write, delivered once saxes has returned. */
  #pending: (() => void)[] = [];
  /** The fast path for whole stanzas, or null when saxes reads everything. */
  #whole: WholeStanzaReader | null;
  /** Nothing of the current stream has been read yet: its header may be read whole. */
  #fresh = true;

  constructor(
    handlers: StreamParserHandlers,
    limits: StreamParserLimits = {},
    options: StreamParserOptions = {},
  ) {
    this.#handlers = handlers;
    this.#whole = options.wholeStanzas === false ? null : new WholeStanzaReader();
    this.#limits = {
      maxStanzaSize: limits.maxStanzaSize ?? DEFAULT_MAX_STANZA_SIZE,
      maxDepth: limits.maxDepth ?? DEFAULT_MAX_DEPTH,
      maxHeaderSize: limits.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE,
      maxHeaderAttributes: limits.maxHeaderAttributes ?? DEFAULT_MAX_HEADER_ATTRIBUTES,
      maxHeaderAttributeSize: limits.maxHeaderAttributeSize ?? DEFAULT_MAX_HEADER_ATTRIBUTE_SIZE,
      maxAttributes: limits.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES,
      maxNameSize: limits.maxNameSize ?? DEFAULT_MAX_NAME_SIZE,
    };
    this.reset();
  }

  /** True once an error was reported: further input is ignored. */
  get failed(): boolean {
    return this.#failed;
  }

  /** True once the root element closed: further input is ignored. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * True between stanzas (or before the header, or after the close) with no partial token
   * held: the input so far is complete, and the parser waits for more only because the
   * stream goes on.
   */
  get idle(): boolean {
    return this.#failed || this.#closed || this.#scanner.idle;
  }

  /** Forgets the current stream and expects a new stream header. */
  reset(): void {
    this.#generation++;
    this.#pending = [];
    this.#decoder = this.#failed ? null : reusableDecoder(this.#decoder);
    this.#scanner = new Scanner(this.#limits);
    this.#stack = [];
    this.#depth = 0;
    this.#closed = false;
    // An error still pending from the old stream is dropped with it (see the test).
    this.#failed = false;
    this.#parser = null;
    this.#root = null;
    this.#fresh = true;
  }

  /**
   * Frees the saxes parser and the decoder while nothing partial is held and the stream is open
   * (between stanzas); the next input makes new ones, saxes primed with the stream header's
   * namespaces. Returns whether anything was freed.
   */
  release(): boolean {
    // Stanzas read whole need no saxes parser, but the decoder may still be held.
    if (this.#parser === null && this.#decoder === null) return false;
    if (this.#failed || this.#closed || this.#depth !== 1 || !this.#scanner.idle) return false;
    if (this.#root === null || this.#pending.length > 0) return false;
    this.#parser = null;
    // Nothing partial is held (the scanner is idle, so no UTF-8 sequence is cut either): the
    // decoder can go too, and the arrays that grew while stanzas were read shrink back.
    this.#decoder = null;
    this.#stack = [];
    this.#scanner.compact();
    return true;
  }

  /** The saxes parser, made (and, inside a stream, primed with its header) when missing. */
  #saxes(): SaxesParser<{ xmlns: true }> {
    if (this.#parser !== null) return this.#parser;
    const parser = this.#createSaxes();
    this.#parser = parser;
    if (this.#depth > 0 && this.#root !== null) {
      const declarations = Object.entries(this.#root.ns).map(([prefix, uri]) =>
        ` ${prefix === "" ? "xmlns" : `xmlns:${prefix}`}="${escapeAttribute(uri)}"`
      ).join("");
      this.#priming = true;
      try {
        parser.write(`<${this.#root.name}${declarations}>`);
      } finally {
        this.#priming = false;
      }
    }
    return parser;
  }

  #createSaxes(): SaxesParser<{ xmlns: true }> {
    const parser = new SaxesParser({ xmlns: true });
    parser.on("opentag", (tag) => this.#open(tag as SaxesTagNS));
    parser.on("closetag", () => this.#close());
    parser.on("text", (text) => this.#text(text));
    parser.on("cdata", (text) => this.#text(text));
    parser.on("doctype", () => this.#fail("restricted-xml", "DTDs are not allowed in XMPP"));
    parser.on("comment", () => this.#fail("restricted-xml", "comments are not allowed in XMPP"));
    parser.on(
      "processinginstruction",
      () => this.#fail("restricted-xml", "processing instructions are not allowed in XMPP"),
    );
    parser.on("xmldecl", ({ encoding }) => {
      if (encoding !== undefined && !/^utf-?8$/i.test(encoding)) {
        this.#fail("unsupported-encoding", `XMPP streams are UTF-8, not ${encoding}`);
      }
    });
    parser.on("error", (err) => {
      // Only the five predefined entities exist without a DTD (RFC 6120 §11.1).
      const restricted = /undefined entity/i.test(err.message);
      this.#fail(restricted ? "restricted-xml" : "not-well-formed", err.message);
    });
    return parser;
  }

  /** Feeds raw bytes from the socket; limits count these bytes. */
  write(bytes: Uint8Array): void {
    if (this.#failed || this.#closed || bytes.length === 0) return;
    const generation = this.#generation;
    const atBoundary = this.#scanner.idle;
    const scanned = this.#scanner.scan(bytes, true);
    let text: string;
    try {
      // Inside a stream (a decoder made again after release) a byte order mark is text.
      this.#decoder ??= new TextDecoder("utf-8", { fatal: true, ignoreBOM: this.#depth > 0 });
      text = this.#decoder.decode(bytes.subarray(0, scanned.end), { stream: true });
    } catch {
      this.#fail("not-well-formed", "invalid UTF-8");
      return this.#flush(generation);
    }
    this.#feed(text, scanned, generation, atBoundary);
  }

  /** Feeds already-decoded text (for tests and tools); limits count UTF-16 code units. */
  writeText(text: string): void {
    if (this.#failed || this.#closed || text === "") return;
    const generation = this.#generation;
    const atBoundary = this.#scanner.idle;
    const units = new Uint16Array(text.length);
    for (let i = 0; i < text.length; i++) units[i] = text.charCodeAt(i);
    const scanned = this.#scanner.scan(units, false);
    this.#feed(
      scanned.end === text.length ? text : text.slice(0, scanned.end),
      scanned,
      generation,
      atBoundary,
    );
  }

  /**
   * Parses `text`. `atBoundary`: the input before it ended between stanzas, so that saxes holds
   * nothing partial and whole stanzas at its start may bypass it.
   */
  #feed(text: string, scanned: ScanResult, generation: number, atBoundary: boolean): void {
    if (atBoundary && text !== "") {
      let from = 0;
      if (this.#fresh) from = this.#readHeader(text);
      text = text.slice(this.#readWhole(text, from));
    }
    this.#fresh = false;
    if (text !== "") {
      this.#inSaxes = true;
      try {
        this.#saxes().write(text);
      } catch (err) {
        this.#inSaxes = false;
        if (err !== STOP) {
          this.#fail("not-well-formed", err instanceof Error ? err.message : String(err));
        }
      }
      this.#inSaxes = false;
    }
    if (scanned.violation) this.#fail(scanned.violation.condition, scanned.violation.text);
    else if (!this.#failed && !this.#scanner.agrees(this.#depth, this.#closed)) {
      // Never expected: saxes and the scanner read the input differently. Answering beats
      // waiting for input that cannot resolve it.
      this.#fail("not-well-formed", "the parser lost track of the markup");
    }
    this.#flush(generation);
  }

  /**
   * Delivers the whole stanzas at the start of `text` that the fast path reads (white space
   * between them is keepalive); returns where saxes must take over (the length: nowhere).
   */
  #readWhole(text: string, from: number): number {
    const reader = this.#whole;
    if (reader === null || this.#depth !== 1 || this.#root === null || this.#failed) return from;
    const defaultNs = this.#root.ns[""] ?? "";
    let i = from;
    for (;;) {
      while (i < text.length && isSpace(text.charCodeAt(i))) i++;
      if (i === text.length) return i;
      const stanza = reader.read(text, i, defaultNs);
      if (stanza === null) return i;
      this.#pending.push(() => this.#handlers.stanza(stanza));
      i = reader.end;
    }
  }

  /**
   * Opens the stream if its first text holds the whole header in the usual shape, as #open does
   * for saxes's event; returns where the header ended (0: saxes reads it).
   */
  #readHeader(text: string): number {
    const header = this.#whole?.readHeader(text);
    if (header == null) return 0;
    this.#depth = 1;
    const ns: Record<string, string> = {};
    if (header.defaultNs !== undefined) ns[""] = header.defaultNs;
    ns.stream = header.uri;
    this.#root = { name: "stream:stream", ns };
    const streamAttrs = { ...header.attrs, xmlns: header.defaultNs ?? "" };
    this.#pending.push(() => this.#handlers.streamOpen("stream", header.uri, streamAttrs));
    return header.end;
  }

  #flush(generation: number): void {
    const pending = this.#pending;
    this.#pending = [];
    for (const deliver of pending) {
      // A handler may reset the parser (STARTTLS): what followed belonged to the old stream.
      if (this.#generation !== generation) return;
      deliver();
    }
  }

  #open(tag: SaxesTagNS): void {
    if (this.#failed || this.#priming) return;
    const attrs: Record<string, string> = {};
    for (const key in tag.attributes) {
      const attr = tag.attributes[key];
      // Namespace declarations are re-derived on output; keep only other attributes.
      if (attr.prefix === "xmlns" || (attr.prefix === "" && attr.local === "xmlns")) continue;
      attrs[attr.name] = attr.value;
    }
    if (this.#depth === 0) {
      this.#depth = 1;
      this.#root = { name: tag.name, ns: { ...tag.ns } };
      const defaultNs = tag.ns[""] ?? this.#parser?.resolve("") ?? "";
      const streamAttrs = { ...attrs, xmlns: defaultNs };
      this.#pending.push(() => this.#handlers.streamOpen(tag.local, tag.uri, streamAttrs));
      return;
    }
    if (this.#depth === 1 && tag.local === "stream" && tag.uri === NS_STREAMS) {
      return this.#fail("bad-format", "a second stream header inside the stream");
    }
    this.#depth++;
    // The scanner refuses this first; kept so that writeText() callers get the same rule.
    if (this.#depth - 1 > this.#limits.maxDepth) {
      return this.#fail("policy-violation", `elements nested deeper than ${this.#limits.maxDepth}`);
    }
    const parent = this.#stack.at(-1);
    const parentNs = parent ? nsOf(this.#stack) : undefined;
    if (tag.uri !== parentNs) attrs.xmlns = tag.uri;
    const element = new Element(tag.local, attrs);
    parent?.children.push(element);
    this.#stack.push(element);
  }

  #close(): void {
    if (this.#failed) return;
    // A mismatched end tag never gets here: the scanner stops before its ">".
    this.#depth--;
    if (this.#depth === 0) {
      this.#closed = true;
      this.#pending.push(() => this.#handlers.streamClose());
      return;
    }
    const element = this.#stack.pop()!;
    if (this.#stack.length === 0) {
      this.#pending.push(() => this.#handlers.stanza(element));
    }
  }

  #text(text: string): void {
    if (this.#failed) return;
    const parent = this.#stack.at(-1);
    // Whitespace between stanzas is keepalive, not content.
    if (parent) parent.children.push(text);
    else if (this.#depth <= 1 && text.trim() !== "") {
      this.#fail("not-well-formed", "text outside of stanzas");
    }
  }

  #fail(condition: ParserErrorCondition, text: string): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#pending.push(() => this.#handlers.error(condition, text));
    if (this.#inSaxes) throw STOP;
  }
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;");
}

/** The namespace in effect for the innermost element on the open-element stack. */
function nsOf(stack: Element[]): string | undefined {
  for (let i = stack.length - 1; i >= 0; i--) {
    const ns = stack[i].attrs.xmlns;
    if (ns !== undefined) return ns;
  }
  return undefined;
}

interface ScanResult {
  /** Input before this offset may be parsed; nothing from it on. */
  end: number;
  violation?: { condition: ParserErrorCondition; text: string };
}

// Lexical states of the scanner.
const enum S {
  TEXT, // content, or between stanzas, or before the header
  LT, // after "<"
  START_NAME, // element name of a start tag
  IN_TAG, // between attributes
  ATTR_NAME,
  AFTER_ATTR_NAME, // before "="
  AFTER_EQ, // before the quote
  ATTR_VALUE,
  AFTER_VALUE, // whitespace, ">" or "/" must follow
  EMPTY, // after "/" in a start tag
  END_NAME, // element name of an end tag
  END_WS, // after the end tag's name
  PI_TARGET, // after "<?"
  PI_BODY, // the XML declaration, up to "?>"
  BANG, // after "<!": CDATA, comment or DTD
  CDATA, // up to "]]>"
  REF, // after "&", up to ";"
  CLOSED, // the root element closed
}

const LT = 0x3c, GT = 0x3e, SLASH = 0x2f, EQ = 0x3d, QUOT = 0x22, APOS = 0x27, QM = 0x3f;
const BANG_MARK = 0x21, RSQB = 0x5d, AMP = 0x26;
const CDATA_OPEN = "[CDATA[";
const UTF8_BOM = [0xef, 0xbb, 0xbf];
const SEMI = 0x3b;
/** Longest reference worth reading: "#x10FFFF" and the entity names are shorter. */
const MAX_REF = 12;
/** Without a DTD only these exist (RFC 6120 §11.1). */
const PREDEFINED_ENTITIES = new Set(["amp", "lt", "gt", "quot", "apos"]);

/** Units that may appear between "&" and ";". */
function isRefUnit(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
    c === 0x23 || c === 0x2e || c === 0x2d || c === 0x5f || c === 0x3a || c >= 0x80;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

/** Bytes that cannot be part of a name, whatever else they might be. */
function endsName(c: number): boolean {
  return isSpace(c) || c === GT || c === SLASH || c === EQ || c === LT || c === QUOT ||
    c === APOS || c === AMP || c === QM || c === BANG_MARK;
}

/**
 * Counts what the limits bound, as the input arrives. It lexes only as far as counting needs
 * (and a few rules saxes would otherwise report late or never, such as text before the header);
 * saxes checks the grammar of everything the scanner lets through.
 */
class Scanner {
  #limits: Required<StreamParserLimits>;
  #state = S.TEXT;
  /** Open elements, the stream's root included. */
  #depth = 0;
  /** Units since the stream (re)started: the XML declaration is allowed only at 0. */
  #offset = 0;
  #headerDone = false;
  /** Units of the current stanza, or of the whitespace run between stanzas. */
  #run = 0;
  /** Units of the current name or attribute value. */
  #token = 0;
  #attributes = 0;
  #quote = 0;
  /** The name being read (one char per unit), and the names of the open elements. */
  #name = "";
  #names: string[] = [];
  #bytes = true;
  /** An entity or character reference being read, and the state it was read from. */
  #ref = "";
  #refFrom = S.TEXT;
  /** UTF-8 continuation bytes still expected, and the range the next one must be in. */
  #utfNeed = 0;
  #utfLow = 0x80;
  #utfHigh = 0xbf;
  /** Where the last "<" was, and how much of a UTF-8 byte order mark opened the stream. */
  #ltAt = 0;
  #bom = 0;
  /** The first units after "<?" or "<!", to tell what follows. */
  #lookahead = "";
  /** The last two units, for "?>" and "]]>". */
  #prev1 = 0;
  #prev2 = 0;

  constructor(limits: Required<StreamParserLimits>) {
    this.#limits = limits;
  }

  get idle(): boolean {
    if (this.#state === S.CLOSED) return true;
    return this.#state === S.TEXT && this.#depth <= 1 && this.#utfNeed === 0;
  }

  /** Drops the spare capacity of the open-element names (called while idle). */
  compact(): void {
    this.#names = this.#names.slice();
  }

  /** Whether saxes, which reports each tag at its ">", has seen the same tags. */
  agrees(depth: number, closed: boolean): boolean {
    if (this.#state === S.CLOSED) return closed;
    return this.#state !== S.TEXT || depth === this.#depth;
  }

  scan(input: Uint8Array | Uint16Array, bytes: boolean): ScanResult {
    this.#bytes = bytes;
    const limits = this.#limits;
    const n = input.length;
    let i = 0;
    const fail = (condition: ParserErrorCondition, text: string): ScanResult => ({
      end: i,
      violation: { condition, text },
    });
    for (; i < n; i++, this.#offset++) {
      if (this.#state === S.CLOSED) return { end: i };
      // Most of a stanza is text and attribute values in ASCII: skip such a run at once.
      if (this.#skippable()) {
        const j = this.#plainRun(input, i, n);
        if (j > i) {
          this.#offset += j - i;
          this.#run += j - i;
          this.#prev2 = j - i >= 2 ? input[j - 2] : this.#prev1;
          this.#prev1 = input[j - 1];
          i = j;
          if (i === n) break;
        }
      }
      const c = input[i];
      if (bytes && (c >= 0x80 || this.#utfNeed > 0) && !this.#utf8(c)) {
        if (this.#offset === 0 && (c === 0xfe || c === 0xff)) {
          return fail("unsupported-encoding", "XMPP streams are UTF-8, not UTF-16");
        }
        return fail("not-well-formed", "invalid UTF-8");
      }
      if (c < 0x20 && !isSpace(c)) {
        return fail(
          "not-well-formed",
          `character U+${c.toString(16).padStart(4, "0")} is not allowed in XML`,
        );
      }
      // What bounds this unit: the header (everything up to its ">"), the stanza, or the
      // whitespace run between stanzas.
      if (!this.#headerDone) {
        if (this.#offset >= limits.maxHeaderSize) {
          return fail(
            "policy-violation",
            `stream header larger than ${limits.maxHeaderSize} bytes`,
          );
        }
      } else if (++this.#run > limits.maxStanzaSize) {
        return fail(
          "policy-violation",
          this.#depth >= 2 || this.#state !== S.TEXT
            ? `stanza larger than ${limits.maxStanzaSize} bytes`
            : `more than ${limits.maxStanzaSize} bytes of whitespace between stanzas`,
        );
      }
      const prev1 = this.#prev1, prev2 = this.#prev2;
      this.#prev2 = prev1;
      this.#prev1 = c;
      switch (this.#state) {
        case S.TEXT:
          if (c === LT) {
            this.#state = S.LT;
            this.#ltAt = this.#offset;
          } else if (c === AMP && this.#depth >= 2) {
            this.#startRef();
          } else if (this.#depth <= 1 && !isSpace(c)) {
            // A UTF-8 byte order mark may open the stream.
            if (bytes && this.#offset === this.#bom && c === UTF8_BOM[this.#bom]) {
              this.#bom++;
              break;
            }
            return fail(
              "not-well-formed",
              this.#depth === 0 ? "text before the stream header" : "text outside of stanzas",
            );
          }
          break;
        case S.LT:
          if (c === SLASH) {
            if (this.#depth === 0) {
              return fail("not-well-formed", "an end tag before the stream header");
            }
            this.#state = S.END_NAME;
            this.#token = 0;
            this.#name = "";
          } else if (c === QM) {
            this.#state = S.PI_TARGET;
            this.#lookahead = "";
          } else if (c === BANG_MARK) {
            this.#state = S.BANG;
            this.#lookahead = "";
          } else if (endsName(c)) {
            return fail("not-well-formed", "a '<' that starts no tag");
          } else {
            if (this.#depth > limits.maxDepth) {
              return fail("policy-violation", `elements nested deeper than ${limits.maxDepth}`);
            }
            if (this.#depth === 1) this.#run = 2; // "<" and this unit: a new stanza
            this.#state = S.START_NAME;
            this.#token = 1;
            this.#name = String.fromCharCode(c);
            this.#attributes = 0;
          }
          break;
        case S.START_NAME:
        case S.ATTR_NAME:
          if (!endsName(c)) {
            if (++this.#token > limits.maxNameSize) {
              return fail("policy-violation", `name longer than ${limits.maxNameSize} bytes`);
            }
            if (this.#state === S.START_NAME) this.#name += String.fromCharCode(c);
          } else if (this.#state === S.START_NAME) {
            this.#names.push(this.#name);
            const r = this.#inTag(c);
            if (r) return fail("not-well-formed", r);
          } else if (isSpace(c)) {
            this.#state = S.AFTER_ATTR_NAME;
          } else if (c === EQ) {
            this.#state = S.AFTER_EQ;
          } else {
            return fail("not-well-formed", "an attribute without a value");
          }
          break;
        case S.AFTER_ATTR_NAME:
          if (c === EQ) this.#state = S.AFTER_EQ;
          else if (!isSpace(c)) return fail("not-well-formed", "an attribute without a value");
          break;
        case S.AFTER_EQ:
          if (c === QUOT || c === APOS) {
            this.#state = S.ATTR_VALUE;
            this.#quote = c;
            this.#token = 0;
          } else if (!isSpace(c)) {
            return fail("not-well-formed", "an attribute value without quotes");
          }
          break;
        case S.ATTR_VALUE:
          if (c === this.#quote) {
            this.#state = S.AFTER_VALUE;
          } else if (c === LT) {
            return fail("not-well-formed", "'<' in an attribute value");
          } else if (this.#depth === 0 && ++this.#token > limits.maxHeaderAttributeSize) {
            return fail(
              "policy-violation",
              `stream header attribute longer than ${limits.maxHeaderAttributeSize} bytes`,
            );
          } else if (c === AMP) {
            this.#startRef();
          }
          break;
        case S.REF: {
          if (c !== SEMI) {
            if (!isRefUnit(c)) {
              return fail("not-well-formed", "a '&' that starts no entity or character reference");
            }
            if (this.#ref.length >= MAX_REF) {
              return fail("restricted-xml", "only the predefined entities exist in XMPP");
            }
            this.#ref += String.fromCharCode(c);
            break;
          }
          const ref = this.#ref;
          if (ref[0] === "#") {
            if (!/^#(?:[0-9]+|x[0-9a-fA-F]+)$/.test(ref)) {
              return fail("not-well-formed", `a malformed character reference &${ref};`);
            }
          } else if (!PREDEFINED_ENTITIES.has(ref)) {
            return fail(
              "restricted-xml",
              ref === ""
                ? "an empty entity reference"
                : "only the predefined entities exist in XMPP",
            );
          }
          this.#state = this.#refFrom;
          break;
        }
        case S.AFTER_VALUE:
        case S.IN_TAG: {
          if (this.#state === S.AFTER_VALUE && c !== GT && c !== SLASH && !isSpace(c)) {
            return fail("not-well-formed", "no whitespace between attributes");
          }
          if (endsName(c)) {
            const r = this.#inTag(c);
            if (r) return fail("not-well-formed", r);
            break;
          }
          const max = this.#depth === 0 ? limits.maxHeaderAttributes : limits.maxAttributes;
          if (++this.#attributes > max) {
            const where = this.#depth === 0 ? "the stream header" : "an element";
            return fail("policy-violation", `more than ${max} attributes on ${where}`);
          }
          this.#state = S.ATTR_NAME;
          this.#token = 1;
          break;
        }
        case S.EMPTY:
          if (c !== GT) return fail("not-well-formed", "'/' not followed by '>' in a tag");
          this.#names.pop();
          this.#state = S.TEXT;
          if (this.#depth === 0) {
            this.#headerDone = true;
            this.#state = S.CLOSED;
          } else if (this.#depth === 1) {
            this.#run = 0;
          }
          break;
        case S.END_NAME:
          if (!endsName(c)) {
            if (++this.#token > limits.maxNameSize) {
              return fail("policy-violation", `name longer than ${limits.maxNameSize} bytes`);
            }
            this.#name += String.fromCharCode(c);
            break;
          }
          if (this.#token === 0) return fail("not-well-formed", "an end tag without a name");
          if (isSpace(c)) {
            this.#state = S.END_WS;
            break;
          }
          if (c !== GT) return fail("not-well-formed", "a broken end tag");
          if (!this.#endTag()) return fail("not-well-formed", this.#mismatch());
          break;
        case S.END_WS:
          if (c === GT) {
            if (!this.#endTag()) return fail("not-well-formed", this.#mismatch());
          } else if (!isSpace(c)) {
            return fail("not-well-formed", "a broken end tag");
          }
          break;
        case S.PI_TARGET:
          if (!endsName(c)) {
            if (this.#lookahead.length < 4) this.#lookahead += String.fromCharCode(c);
            break;
          }
          if (this.#lookahead.toLowerCase() !== "xml") {
            return fail("restricted-xml", "processing instructions are not allowed in XMPP");
          }
          if (this.#ltAt !== (this.#bom === 3 ? 3 : 0) || !isSpace(c)) {
            return fail("not-well-formed", "an XML declaration that does not open the stream");
          }
          this.#state = S.PI_BODY;
          break;
        case S.PI_BODY:
          if (c === GT && prev1 === QM) this.#state = S.TEXT;
          break;
        case S.BANG: {
          this.#lookahead += String.fromCharCode(c);
          const seen = this.#lookahead;
          if (this.#depth >= 2 && CDATA_OPEN.startsWith(seen)) {
            if (seen === CDATA_OPEN) this.#state = S.CDATA;
          } else if ("--".startsWith(seen) || "DOCTYPE".startsWith(seen)) {
            if (seen === "--") return fail("restricted-xml", "comments are not allowed in XMPP");
            if (seen === "DOCTYPE") return fail("restricted-xml", "DTDs are not allowed in XMPP");
          } else {
            return fail("not-well-formed", "a '<!' that starts no CDATA section");
          }
          break;
        }
        case S.CDATA:
          if (c === GT && prev1 === RSQB && prev2 === RSQB) this.#state = S.TEXT;
          break;
      }
    }
    return { end: i };
  }

  /** In a stanza's text or attribute value, where plain units only count toward the limits. */
  #skippable(): boolean {
    if (this.#utfNeed > 0 || !this.#headerDone) return false;
    return this.#state === S.TEXT ? this.#depth >= 2 : this.#state === S.ATTR_VALUE;
  }

  /**
   * Where the run of plain units from `i` ends: printable ASCII, tab and line ends, but for
   * "<", "&" and (in an attribute value) its quote; at most up to the stanza size limit.
   */
  #plainRun(input: Uint8Array | Uint16Array, i: number, n: number): number {
    const quote = this.#state === S.ATTR_VALUE ? this.#quote : -1;
    const end = Math.min(n, i + Math.max(0, this.#limits.maxStanzaSize - this.#run));
    let j = i;
    while (j < end) {
      const c = input[j];
      if (c >= 0x80 || c === LT || c === AMP || c === quote) break;
      if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      j++;
    }
    return j;
  }

  /** Checks one byte of a multi-byte UTF-8 sequence (RFC 3629 §4); false if invalid. */
  #utf8(c: number): boolean {
    if (this.#utfNeed > 0) {
      if (c < this.#utfLow || c > this.#utfHigh) return false;
      this.#utfNeed--;
      this.#utfLow = 0x80;
      this.#utfHigh = 0xbf;
      return true;
    }
    if (c >= 0xc2 && c <= 0xdf) this.#utfNeed = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      this.#utfNeed = 2;
      if (c === 0xe0) this.#utfLow = 0xa0; // overlong
      else if (c === 0xed) this.#utfHigh = 0x9f; // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      this.#utfNeed = 3;
      if (c === 0xf0) this.#utfLow = 0x90; // overlong
      else if (c === 0xf4) this.#utfHigh = 0x8f; // above U+10FFFF
    } else return false;
    return true;
  }

  #startRef(): void {
    this.#refFrom = this.#state;
    this.#state = S.REF;
    this.#ref = "";
  }

  /** A unit that ends a name inside a start tag; an error message if it is out of place. */
  #inTag(c: number): string | undefined {
    if (isSpace(c)) {
      this.#state = S.IN_TAG;
    } else if (c === SLASH) {
      this.#state = S.EMPTY;
    } else if (c === GT) {
      this.#startTagEnd();
    } else {
      return `'${String.fromCharCode(c)}' out of place in a tag`;
    }
    return undefined;
  }

  #startTagEnd(): void {
    this.#state = S.TEXT;
    if (this.#depth === 0) {
      this.#headerDone = true;
      this.#run = 0;
    }
    this.#depth++;
  }

  /** The end of an end tag; false if it does not close the innermost open element. */
  #endTag(): boolean {
    if (this.#names.at(-1) !== this.#name) return false;
    this.#names.pop();
    this.#state = S.TEXT;
    this.#depth--;
    if (this.#depth === 1) this.#run = 0;
    else if (this.#depth <= 0) this.#state = S.CLOSED;
    return true;
  }

  #mismatch(): string {
    const open = this.#names.at(-1) ?? "";
    // In bytes mode, names hold one char per UTF-8 byte.
    const decode = (name: string) =>
      this.#bytes
        ? new TextDecoder().decode(Uint8Array.from(name, (ch) => ch.charCodeAt(0)))
        : name;
    return `end tag </${decode(this.#name)}> does not match <${decode(open)}>`;
  }
}

/**
 * `decoder` again for a new stream (a login restarts the stream twice), or null to make a new
 * one: when it holds no partial character, decode() without `stream` empties it and the next
 * call starts afresh, a leading byte order mark skipped again (WHATWG Encoding, decode()). One
 * made inside a stream keeps a byte order mark as text, which a new stream must not.
 */
function reusableDecoder(decoder: TextDecoder | null): TextDecoder | null {
  if (decoder === null || decoder.ignoreBOM) return null;
  try {
    decoder.decode();
    return decoder;
  } catch {
    return null; // the old stream ended inside a character
  }
}
