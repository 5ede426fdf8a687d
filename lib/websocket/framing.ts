// XMPP over WebSocket framing, RFC 7395 §3.3 (message framing), §3.3.2 (<open/>), §3.3.3 (one
// complete element per message), §3.4 (stream restarts), §3.6 (<close/>).
//
// The c2s stream speaks RFC 6120 streams: a `<stream:stream>` header, child elements that
// inherit `jabber:client` and the `stream` prefix from it, and `</stream:stream>`. Over a
// WebSocket there is no enclosing element: every message is a standalone document. The two
// translators here turn one into the other, so the stream runs unchanged over either.
import { NS } from "../stanza/ns.ts";
import { loadXml } from "../xml/stored.ts";
import { escapeAttr } from "../xml/escape.ts";

/** RFC 7395 §3.3.1: the namespace of `<open/>` and `<close/>`. */
export const NS_FRAMING = "urn:ietf:params:xml:ns:xmpp-framing";

/** One WebSocket message the server sends, and what it means for the connection. */
export interface OutgoingMessage {
  /** `open`: the stream header; `close`: the stream end (the socket closes after it). */
  kind: "open" | "element" | "close";
  text: string;
}

/**
 * Cuts what the c2s stream writes into WebSocket messages, one per top-level element (RFC 7395
 * §3.3.3), and gives each the namespace declarations it inherited from the stream header: the
 * header becomes `<open/>`, `</stream:stream>` becomes `<close/>`, whitespace between elements
 * is dropped (keepalives are WebSocket pings here, §3.6).
 *
 * Input may hold several elements per write, or an element across writes. It is the server's
 * own serialization, well-formed, so a lexer that knows tags, quoted attribute values, CDATA,
 * comments and processing instructions is enough to find where each element ends.
 *
 * @example
 * ```ts
 * const framer = new OutgoingFramer();
 * framer.write("<message to='a@b'><body>hi</body></message>");
 * // [{ kind: "element", text: "<message xmlns='jabber:client' to='a@b'><body>hi</body></message>" }]
 * ```
 */
export class OutgoingFramer {
  #buffer = "";
  /** Where scanning goes on in `#buffer`, and the depth there (0: between elements). */
  #at = 0;
  #depth = 0;

  /** Takes text the stream wrote; returns the messages it completes. */
  write(text: string): OutgoingMessage[] {
    this.#buffer += text;
    const out: OutgoingMessage[] = [];
    let start = 0; // start of the element being scanned, or of what is left
    const buffer = this.#buffer;
    let at = this.#at;
    while (at < buffer.length) {
      if (this.#depth === 0) {
        // Between elements: skip whitespace (and stray text, which the stream never writes).
        const lt = buffer.indexOf("<", at);
        if (lt < 0) {
          at = start = buffer.length;
          break;
        }
        at = start = lt;
      } else {
        const lt = buffer.indexOf("<", at);
        if (lt < 0) break;
        at = lt;
      }
      const end = tagEnd(buffer, at);
      if (end < 0) break; // the rest comes with the next write
      const tag = buffer.slice(at, end);
      at = end;
      if (tag.startsWith("<?") || tag.startsWith("<!")) {
        if (this.#depth === 0) start = at; // the XML declaration before the header
        continue;
      }
      if (tag.startsWith("</")) {
        if (this.#depth === 0) {
          // Only the stream's own end tag closes at depth 0.
          if (tag.startsWith("</stream:stream")) {
            out.push({ kind: "close", text: `<close xmlns='${NS_FRAMING}'/>` });
          }
          start = at;
          continue;
        }
        if (--this.#depth === 0) {
          out.push({ kind: "element", text: withNamespaces(buffer.slice(start, at)) });
          start = at;
        }
        continue;
      }
      if (this.#depth === 0 && /^<stream:stream[\s>]/.test(tag)) {
        out.push({ kind: "open", text: openFromHeader(tag) });
        start = at;
        continue;
      }
      if (tag.endsWith("/>")) {
        if (this.#depth === 0) {
          out.push({ kind: "element", text: withNamespaces(tag) });
          start = at;
        }
        continue;
      }
      this.#depth++;
    }
    this.#buffer = buffer.slice(start);
    this.#at = at - start;
    return out;
  }

  /** Characters held for an element not yet complete. */
  get pending(): number {
    return this.#buffer.length;
  }
}

/**
 * The index just past the markup that starts at `at` (a `<`), or -1 when it is not complete
 * yet. Quoted attribute values may hold `>`.
 */
function tagEnd(text: string, at: number): number {
  if (text.startsWith("<![CDATA[", at)) return endAfter(text, "]]>", at);
  if (text.startsWith("<!--", at)) return endAfter(text, "-->", at);
  if (text.startsWith("<?", at)) return endAfter(text, "?>", at);
  let quote = "";
  for (let i = at + 1; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === "'" || c === '"') quote = c;
    else if (c === ">") return i + 1;
  }
  return -1;
}

function endAfter(text: string, marker: string, at: number): number {
  const found = text.indexOf(marker, at);
  return found < 0 ? -1 : found + marker.length;
}

/** The start tag's name and its attributes, raw (values still escaped), in order. */
function startTag(tag: string): { name: string; attrs: [string, string, string][] } {
  const name = /^<([^\s/>]+)/.exec(tag)![1];
  const attrs: [string, string, string][] = [];
  const pattern = /([^\s=/<>]+)\s*=\s*(?:'([^']*)'|"([^"]*)")/g;
  const body = tag.slice(name.length + 1);
  for (const match of body.matchAll(pattern)) {
    attrs.push([match[1], match[2] ?? match[3], match[2] === undefined ? '"' : "'"]);
  }
  return { name, attrs };
}

/**
 * RFC 7395 §3.3.3: a top-level element declares what it inherited from the stream header:
 * `xmlns:stream` on `stream:` elements (features, errors), `jabber:client` on stanzas without
 * a namespace of their own.
 */
function withNamespaces(element: string): string {
  const { name, attrs } = startTag(element.slice(0, tagEnd(element, 0)));
  let declaration = "";
  if (name.startsWith("stream:")) {
    if (!attrs.some(([key]) => key === "xmlns:stream")) {
      declaration = ` xmlns:stream='${NS.STREAMS}'`;
    }
  } else if (!attrs.some(([key]) => key === "xmlns")) {
    declaration = ` xmlns='${NS.CLIENT}'`;
  }
  if (declaration === "") return element;
  const at = name.length + 1;
  return element.slice(0, at) + declaration + element.slice(at);
}

/** RFC 7395 §3.3.2: the stream header as `<open/>`, with its from, id, version and xml:lang. */
function openFromHeader(header: string): string {
  const kept = startTag(header).attrs
    .filter(([key]) => key !== "xmlns" && !key.startsWith("xmlns:"))
    .map(([key, value, quote]) => ` ${key}=${quote}${value}${quote}`)
    .join("");
  return `<open xmlns='${NS_FRAMING}'${kept}/>`;
}

/** What one message from the client means for the stream. */
export type IncomingMessage =
  /** `<open/>`: the stream header to feed the parser in its place. */
  | { kind: "open"; header: string }
  /** `<close/>`: the stream end, `</stream:stream>`. */
  | { kind: "close"; text: string }
  /** Anything else: fed to the parser as it is (it enforces the XML rules and limits). */
  | { kind: "data"; text: string };

/**
 * Translates one message from the client. `<open/>` and `<close/>` in the framing namespace
 * become the RFC 6120 stream header and end; a stanza is passed on as it is, its own
 * `xmlns='jabber:client'` being what the header would have declared.
 *
 * Whatever is not framing is left to the stream parser, which already rejects what breaks the
 * XML rules or the limits, with the stream error the stream sends; an `<open/>` outside the
 * framing namespace reaches it too, and is refused as the wrong stream namespace.
 */
export function translateIncoming(message: string): IncomingMessage {
  const framing = /^\s*<(open|close)[\s/>]/.exec(message);
  if (framing === null || !message.includes(NS_FRAMING)) return { kind: "data", text: message };
  let element;
  try {
    element = loadXml(message);
  } catch {
    return { kind: "data", text: message };
  }
  if (element.attrs.xmlns !== NS_FRAMING) return { kind: "data", text: message };
  if (element.name === "close") return { kind: "close", text: "</stream:stream>" };
  const attrs = Object.entries(element.attrs)
    .filter(([key]) => key !== "xmlns" && !key.startsWith("xmlns:"))
    .map(([key, value]) => ` ${key}='${escapeAttr(value)}'`)
    .join("");
  return {
    kind: "open",
    header: `<stream:stream xmlns='${NS.CLIENT}' xmlns:stream='${NS.STREAMS}'${attrs}>`,
  };
}
