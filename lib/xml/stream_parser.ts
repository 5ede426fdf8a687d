// Incremental XMPP stream parser (RFC 6120 §4, restricted XML §11.1) on saxes.
//
// Bytes go in at any boundary (even inside a UTF-8 sequence); out come the
// stream header, one Element per top-level stanza, and the stream close. It
// refuses DTDs, comments, processing instructions and entity declarations
// (`restricted-xml`), stanzas over the size limit and nesting past the depth
// limit (`policy-violation`), and malformed XML (`not-well-formed`).
import { SaxesParser, type SaxesTagNS } from "saxes";
import { Element } from "./element.ts";

/** Stream error conditions the parser itself can raise. */
export type ParserErrorCondition = "not-well-formed" | "restricted-xml" | "policy-violation";

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

/** Limits on what one stanza may be. */
export interface StreamParserLimits {
  /** Largest stanza, in characters of XML (default 256 KiB). */
  maxStanzaSize?: number;
  /** Deepest nesting inside a stanza (default 32). */
  maxDepth?: number;
}

export const DEFAULT_MAX_STANZA_SIZE = 256 * 1024;
export const DEFAULT_MAX_DEPTH = 32;

/** An incremental parser for one XML stream; `reset()` starts a new stream (after STARTTLS, SASL). */
export class StreamParser {
  #handlers: StreamParserHandlers;
  #maxSize: number;
  #maxDepth: number;
  #decoder = new TextDecoder("utf-8", { fatal: true });
  #parser!: SaxesParser<{ xmlns: true; position: true }>;
  #stack: Element[] = [];
  #depth = 0;
  /** Where the current stanza began or, between stanzas, where the last one ended. */
  #stanzaStart = 0;
  /** Characters written to the current parser (saxes' own count is off after a write). */
  #consumed = 0;
  #failed = false;
  #closed = false;
  // Events are delivered after each write so that a stanza whose end tag saxes
  // later reports as mismatched can be withdrawn before anyone sees it.
  #pending: (() => void)[] = [];
  #lastStanza: (() => void) | null = null;

  constructor(handlers: StreamParserHandlers, limits: StreamParserLimits = {}) {
    this.#handlers = handlers;
    this.#maxSize = limits.maxStanzaSize ?? DEFAULT_MAX_STANZA_SIZE;
    this.#maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.reset();
  }

  /** True once an error was reported: further input is ignored. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Forgets the current stream and expects a new stream header. */
  reset(): void {
    this.#decoder = new TextDecoder("utf-8", { fatal: true });
    this.#stack = [];
    this.#depth = 0;
    this.#stanzaStart = 0;
    this.#consumed = 0;
    this.#closed = false;
    const parser = new SaxesParser({ xmlns: true, position: true });
    parser.on("opentag", (tag) => this.#open(tag as SaxesTagNS));
    parser.on("closetag", (tag) => this.#close(tag as SaxesTagNS));
    parser.on("text", (text) => this.#text(text));
    parser.on("cdata", (text) => this.#text(text));
    parser.on("doctype", () => this.#fail("restricted-xml", "DTDs are not allowed in XMPP"));
    parser.on("comment", () => this.#fail("restricted-xml", "comments are not allowed in XMPP"));
    parser.on(
      "processinginstruction",
      () => this.#fail("restricted-xml", "processing instructions are not allowed in XMPP"),
    );
    parser.on("error", (err) => {
      // Only the five predefined entities exist without a DTD (RFC 6120 §11.1).
      const restricted = /entity/i.test(err.message);
      this.#fail(restricted ? "restricted-xml" : "not-well-formed", err.message);
    });
    this.#parser = parser;
  }

  /** Feeds raw bytes from the socket. */
  write(bytes: Uint8Array): void {
    if (this.#failed || this.#closed) return;
    let text: string;
    try {
      text = this.#decoder.decode(bytes, { stream: true });
    } catch {
      this.#fail("not-well-formed", "invalid UTF-8");
      this.#flush();
      return;
    }
    this.writeText(text);
  }

  /** Feeds already-decoded text (for tests and tools). */
  writeText(text: string): void {
    if (this.#failed || this.#closed || text === "") return;
    this.#consumed += text.length;
    try {
      this.#parser.write(text);
    } catch (err) {
      this.#fail("not-well-formed", err instanceof Error ? err.message : String(err));
    }
    // Inside a stanza this bounds the stanza; between stanzas, the whitespace saxes buffers.
    if (!this.#failed && this.#depth >= 1 && this.#consumed - this.#stanzaStart > this.#maxSize) {
      this.#fail(
        "policy-violation",
        this.#depth === 1
          ? `more than ${this.#maxSize} bytes of whitespace between stanzas`
          : `stanza larger than ${this.#maxSize} bytes`,
      );
    }
    this.#flush();
  }

  #flush(): void {
    const pending = this.#pending;
    this.#pending = [];
    this.#lastStanza = null;
    for (const deliver of pending) deliver();
  }

  #open(tag: SaxesTagNS): void {
    if (this.#failed) return;
    const attrs: Record<string, string> = {};
    for (const key in tag.attributes) {
      const attr = tag.attributes[key];
      // Namespace declarations are re-derived on output; keep only other attributes.
      if (attr.prefix === "xmlns" || (attr.prefix === "" && attr.local === "xmlns")) continue;
      attrs[attr.name] = attr.value;
    }
    if (this.#depth === 0) {
      this.#depth = 1;
      const defaultNs = tag.ns[""] ?? this.#parser.resolve("") ?? "";
      const streamAttrs = { ...attrs, xmlns: defaultNs };
      this.#stanzaStart = this.#parser.position;
      this.#pending.push(() => this.#handlers.streamOpen(tag.local, tag.uri, streamAttrs));
      return;
    }
    this.#lastStanza = null;
    if (this.#depth === 1) this.#stanzaStart = this.#parser.position;
    this.#depth++;
    if (this.#depth - 1 > this.#maxDepth) {
      this.#fail("policy-violation", `elements nested deeper than ${this.#maxDepth}`);
      return;
    }
    const parent = this.#stack.at(-1);
    const parentNs = parent ? nsOf(parent, this.#stack) : undefined;
    if (tag.uri !== parentNs) attrs.xmlns = tag.uri;
    const element = new Element(tag.local, attrs);
    parent?.children.push(element);
    this.#stack.push(element);
  }

  #close(tag: SaxesTagNS): void {
    if (this.#failed) return;
    // saxes reports a mismatched end tag as a close of the open element, then errors.
    const open = this.#stack.at(-1);
    if (open && open.name !== tag.local) {
      this.#fail("not-well-formed", `end tag </${tag.name}> does not match <${open.name}>`);
      return;
    }
    this.#depth--;
    if (this.#depth === 0) {
      this.#closed = true;
      this.#pending.push(() => this.#handlers.streamClose());
      return;
    }
    const element = this.#stack.pop()!;
    if (this.#stack.length === 0) {
      if (this.#parser.position - this.#stanzaStart > this.#maxSize) {
        this.#fail("policy-violation", `stanza larger than ${this.#maxSize} bytes`);
        return;
      }
      this.#stanzaStart = this.#parser.position;
      const deliver = () => this.#handlers.stanza(element);
      this.#lastStanza = deliver;
      this.#pending.push(deliver);
    }
  }

  #text(text: string): void {
    if (this.#failed) return;
    const parent = this.#stack.at(-1);
    // Whitespace between stanzas is keepalive, not content.
    this.#lastStanza = null;
    if (parent) parent.children.push(text);
    else if (this.#depth === 1 && text.trim() !== "") {
      this.#fail("not-well-formed", "text outside of stanzas");
    }
  }

  #fail(condition: ParserErrorCondition, text: string): void {
    if (this.#failed) return;
    this.#failed = true;
    if (this.#lastStanza) this.#pending.splice(this.#pending.indexOf(this.#lastStanza), 1);
    this.#pending.push(() => this.#handlers.error(condition, text));
  }
}

/** The namespace in effect for an element on the open-element stack. */
function nsOf(element: Element, stack: Element[]): string | undefined {
  for (let i = stack.indexOf(element); i >= 0; i--) {
    const ns = stack[i].attrs.xmlns;
    if (ns !== undefined) return ns;
  }
  return undefined;
}
