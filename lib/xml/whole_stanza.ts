// The fast path of the stream parser: a stanza that arrived whole, in the plain XML that clients
// send, read in one pass over the decoded text. It reads only a strict subset of XML — names
// of ASCII letters, digits, "_", "-" and "." (no prefixes but `xml:lang`), default namespace
// declarations, the five predefined entities and character references, no CDATA, comments or
// processing instructions, no carriage returns and no control characters in attribute values
// (which XML would normalize) — and declines everything else, well-formed or not, by returning
// null: saxes then reads that stanza, with every check and error it has. So this reader never
// reports an error and never accepts what saxes would refuse; it builds exactly the element
// saxes's events would (lib/xml/whole_stanza_test.ts compares the two on fuzzed streams).
import { Element } from "./element.ts";

const LT = 0x3c, GT = 0x3e, SLASH = 0x2f, EQ = 0x3d, QUOT = 0x22, APOS = 0x27, AMP = 0x26;
const BANG = 0x21, QM = 0x3f, HASH = 0x23, RSQB = 0x5d, COLON = 0x3a;
/** Namespaces no default declaration may name (Namespaces in XML 1.0 §3). */
const XML_NS = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS = "http://www.w3.org/2000/xmlns/";
/** The one prefixed attribute read here; saxes reads every other. */
const XML_LANG = "xml:lang";
/** Longest character reference read here ("#x10FFFF"). */
const MAX_CHAR_REF = 8;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

function isNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e;
}

/** Whether a character reference names a character XML 1.0 allows (§2.2 Char). */
function isXmlChar(code: number): boolean {
  return code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
}

/** A stream header read whole: what saxes's events for it would have told. */
export interface WholeHeader {
  /** After the header's ">". */
  end: number;
  /** The root's namespace (that of the `stream` prefix). */
  uri: string;
  /** Its attributes but the namespace declarations, in order. */
  attrs: Record<string, string>;
  /** The default namespace declared on it, if any. */
  defaultNs: string | undefined;
}

const STREAM_QNAME = "stream:stream";
const STREAM_PREFIX_DECL = "xmlns:stream";

/** Reads whole stanzas; one per parser, as it keeps where the last one ended. */
export class WholeStanzaReader {
  /** Where the stanza returned by the last {@linkcode read} ends (after its last ">"). */
  end = 0;
  #text = "";
  #i = 0;

  /**
   * The stanza that starts at `start` (a "<"), in the default namespace `defaultNs`, if it is
   * all in `text` and in the subset read here; null otherwise (saxes reads it).
   */
  read(text: string, start: number, defaultNs: string): Element | null {
    this.#text = text;
    this.#i = start;
    try {
      return this.#stanza(defaultNs);
    } finally {
      this.#text = "";
    }
  }

  /**
   * The stream header at the very start of a stream's text, if it is all there in the shape
   * clients send: an optional XML declaration (version 1.0, UTF-8, standalone) and a
   * `<stream:stream>` start tag declaring the `stream` prefix, and at most a default namespace
   * besides; null otherwise (saxes reads it).
   */
  readHeader(text: string): WholeHeader | null {
    this.#text = text;
    this.#i = 0;
    try {
      if (text.startsWith("<?xml") && !this.#declaration()) return null;
      this.#skipSpace();
      if (!text.startsWith(`<${STREAM_QNAME}`, this.#i)) return null;
      this.#i += STREAM_QNAME.length + 1;
      const attrs: Record<string, string> = {};
      let uri: string | undefined;
      let defaultNs: string | undefined;
      for (;;) {
        const spaced = this.#skipSpace();
        if (text.charCodeAt(this.#i) === GT) break;
        if (!spaced) return null;
        let attribute: string | null;
        if (text.startsWith(STREAM_PREFIX_DECL, this.#i)) {
          this.#i += STREAM_PREFIX_DECL.length;
          attribute = STREAM_PREFIX_DECL;
        } else {
          attribute = this.#name(true);
        }
        if (attribute === null || !this.#equals()) return null;
        const value = this.#value();
        if (value === null) return null;
        if (attribute === STREAM_PREFIX_DECL || attribute === "xmlns") {
          if (!plainNamespace(value)) return null;
        }
        if (attribute === STREAM_PREFIX_DECL) {
          if (uri !== undefined || value === "") return null;
          uri = value;
        } else if (attribute === "xmlns") {
          if (defaultNs !== undefined) return null;
          defaultNs = value;
        } else {
          if (Object.hasOwn(attrs, attribute) || attribute === "__proto__") return null;
          attrs[attribute] = value;
        }
      }
      if (uri === undefined) return null;
      return { end: this.#i + 1, uri, attrs, defaultNs };
    } finally {
      this.#text = "";
    }
  }

  /** `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`, the last two optional. */
  #declaration(): boolean {
    const text = this.#text;
    this.#i = 5;
    const pseudo: [name: string, valid: RegExp][] = [
      ["version", /^1\.0$/],
      ["encoding", /^utf-?8$/i],
      ["standalone", /^(?:yes|no)$/],
    ];
    let first = true;
    for (const [name, valid] of pseudo) {
      const at = this.#i;
      if (!this.#skipSpace() || !text.startsWith(name, this.#i)) {
        if (first) return false;
        this.#i = at;
        continue;
      }
      this.#i += name.length;
      if (!this.#equals()) return false;
      const value = this.#value();
      if (value === null || !valid.test(value)) return false;
      first = false;
    }
    this.#skipSpace();
    if (!text.startsWith("?>", this.#i)) return false;
    this.#i += 2;
    return true;
  }

  /** Optional spaces, "=", optional spaces; whether the "=" was there. */
  #equals(): boolean {
    this.#skipSpace();
    if (this.#text.charCodeAt(this.#i) !== EQ) return false;
    this.#i++;
    this.#skipSpace();
    return true;
  }

  #stanza(defaultNs: string): Element | null {
    const text = this.#text;
    const n = text.length;
    const open: Element[] = [];
    const uris: string[] = [];
    while (this.#i < n) {
      const c = text.charCodeAt(this.#i);
      if (c !== LT) {
        if (open.length === 0) return null;
        const content = this.#content();
        if (content === null) return null;
        open[open.length - 1].children.push(content);
        continue;
      }
      const next = text.charCodeAt(this.#i + 1);
      if (next === SLASH) {
        // An end tag: the innermost open element's name, optional spaces, ">".
        if (open.length === 0) return null;
        this.#i += 2;
        const name = this.#name(false);
        if (name === null || name !== open[open.length - 1].name) return null;
        this.#skipSpace();
        if (text.charCodeAt(this.#i) !== GT) return null;
        this.#i++;
        const element = open.pop()!;
        uris.pop();
        if (open.length === 0) {
          this.end = this.#i;
          return element;
        }
        continue;
      }
      if (next === BANG || next === QM) return null;
      this.#i++;
      const name = this.#name(false);
      if (name === null) return null;
      // A second stream header is saxes's to report (bad-format).
      if (open.length === 0 && name === "stream") return null;
      const attrs: Record<string, string> = {};
      let declared: string | undefined;
      let empty = false;
      for (;;) {
        const spaced = this.#skipSpace();
        const d = text.charCodeAt(this.#i);
        if (d === GT) {
          this.#i++;
          break;
        }
        if (d === SLASH) {
          if (text.charCodeAt(this.#i + 1) !== GT) return null;
          this.#i += 2;
          empty = true;
          break;
        }
        if (!spaced) return null;
        const attribute = this.#name(true);
        if (attribute === null || !this.#equals()) return null;
        const value = this.#value();
        if (value === null) return null;
        if (attribute === "xmlns") {
          if (declared !== undefined || !plainNamespace(value)) return null;
          declared = value;
        } else {
          if (Object.hasOwn(attrs, attribute) || attribute === "__proto__") return null;
          attrs[attribute] = value;
        }
      }
      // As StreamParser does with saxes's events: `xmlns` is set where the namespace changes,
      // and always on the stanza itself.
      const parentUri = open.length === 0 ? undefined : uris[uris.length - 1];
      const uri = declared ?? parentUri ?? defaultNs;
      if (uri !== parentUri) attrs.xmlns = uri;
      const element = new Element(name, attrs);
      if (open.length > 0) open[open.length - 1].children.push(element);
      if (empty) {
        if (open.length === 0) {
          this.end = this.#i;
          return element;
        }
      } else {
        open.push(element);
        uris.push(uri);
      }
    }
    return null; // not all there yet
  }

  /** A name in the subset (`xml:lang` too for an attribute), or null. */
  #name(attribute: boolean): string | null {
    const text = this.#text;
    const start = this.#i;
    if (!isNameStart(text.charCodeAt(start))) return null;
    let i = start + 1;
    while (isNameChar(text.charCodeAt(i))) i++;
    if (attribute && text.charCodeAt(i) === COLON) {
      if (text.slice(start, i + 5) !== XML_LANG) return null;
      i += 5;
    }
    const after = text.charCodeAt(i);
    // What may follow a name here; anything else (a prefix, a non-ASCII name) is saxes's.
    if (!(isSpace(after) || (attribute ? after === EQ : after === GT || after === SLASH))) {
      return null;
    }
    this.#i = i;
    return text.slice(start, i);
  }

  /** Skips XML white space; whether there was any. */
  #skipSpace(): boolean {
    const text = this.#text;
    const start = this.#i;
    while (isSpace(text.charCodeAt(this.#i))) this.#i++;
    return this.#i > start;
  }

  /** A quoted attribute value, references replaced, or null. */
  #value(): string | null {
    const text = this.#text;
    const quote = text.charCodeAt(this.#i);
    if (quote !== QUOT && quote !== APOS) return null;
    let i = this.#i + 1;
    let segment = i;
    let value = "";
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === quote) break;
      // Also NaN past the end: not all there yet.
      if (!(c >= 0x20) || c === LT) return null;
      if (c === AMP) {
        const ref = this.#reference(i);
        if (ref === null) return null;
        value += text.slice(segment, i) + ref;
        i = this.#i;
        segment = i;
        continue;
      }
      if (c >= 0xd800) {
        const width = surrogateWidth(text, i);
        if (width === 0) return null;
        i += width;
        continue;
      }
      i++;
    }
    value += text.slice(segment, i);
    this.#i = i + 1;
    return value;
  }

  /** Character data up to the next "<", references replaced, or null. */
  #content(): string | null {
    const text = this.#text;
    let i = this.#i;
    let segment = i;
    let content = "";
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === LT) break;
      // Past the end (NaN), a carriage return (XML normalizes it) or another control character.
      if (!(c >= 0x20) && c !== 0x0a && c !== 0x09) return null;
      if (c === AMP) {
        const ref = this.#reference(i);
        if (ref === null) return null;
        content += text.slice(segment, i) + ref;
        i = this.#i;
        segment = i;
        continue;
      }
      // "]]>" may not appear in content (XML 1.0 §2.4).
      if (c === GT && text.charCodeAt(i - 1) === RSQB && text.charCodeAt(i - 2) === RSQB) {
        return null;
      }
      if (c >= 0xd800) {
        const width = surrogateWidth(text, i);
        if (width === 0) return null;
        i += width;
        continue;
      }
      i++;
    }
    content += text.slice(segment, i);
    this.#i = i;
    return content;
  }

  /** The text of the reference at `at` (an "&"), leaving #i after its ";"; or null. */
  #reference(at: number): string | null {
    const text = this.#text;
    const semi = text.indexOf(";", at + 1);
    if (semi < 0 || semi - at - 1 > MAX_CHAR_REF) return null;
    const body = text.slice(at + 1, semi);
    let replacement: string;
    switch (body) {
      case "lt":
        replacement = "<";
        break;
      case "gt":
        replacement = ">";
        break;
      case "amp":
        replacement = "&";
        break;
      case "quot":
        replacement = '"';
        break;
      case "apos":
        replacement = "'";
        break;
      default: {
        if (body.charCodeAt(0) !== HASH) return null;
        const hex = body.charCodeAt(1) === 0x78; // "x"
        const digits = body.slice(hex ? 2 : 1);
        if (!(hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits)) return null;
        const code = parseInt(digits, hex ? 16 : 10);
        if (!isXmlChar(code)) return null;
        replacement = String.fromCodePoint(code);
      }
    }
    this.#i = semi + 1;
    return replacement;
  }
}

/**
 * Whether a namespace name is one read here: not one of the two reserved ones, and without
 * white space at either end (saxes trims it).
 */
function plainNamespace(uri: string): boolean {
  if (uri === XML_NS || uri === XMLNS_NS) return false;
  return uri === "" || (!isSpace(uri.charCodeAt(0)) && !isSpace(uri.charCodeAt(uri.length - 1)));
}

/**
 * How many code units the character at `i` (at least U+D800) takes: 2 for a surrogate pair, 1
 * for a character XML allows, 0 for a lone surrogate, U+FFFE or U+FFFF.
 */
function surrogateWidth(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c <= 0xdbff) {
    const low = text.charCodeAt(i + 1);
    return low >= 0xdc00 && low <= 0xdfff ? 2 : 0;
  }
  if (c <= 0xdfff || c === 0xfffe || c === 0xffff) return 0;
  return 1;
}
