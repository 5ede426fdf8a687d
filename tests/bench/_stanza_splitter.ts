// Cuts an XMPP stream, once the stream header has been read, into the raw text of its top-level
// stanzas, without parsing them: a load generator must not spend more CPU per stanza than the
// server it measures. It relies on what every XMPP server writes — no comments, PIs or CDATA
// (RFC 6120 §11.1), and `>` escaped in attribute values — and checks nothing else.

/** What a {@linkcode StanzaSplitter} reports. */
export interface SplitterHandlers {
  /** The raw text of one complete top-level element, e.g. `<message ...>...</message>`. */
  stanza(raw: string): void;
  /** The stream's end tag (`</stream:stream>`) arrived. */
  streamClose(): void;
}

/**
 * Splits text arriving in chunks of any size into top-level elements, tracking only tag depth.
 * Start it right after the stream header (and features) have been consumed.
 *
 * @example
 * ```ts
 * const splitter = new StanzaSplitter({ stanza: (raw) => console.log(raw), streamClose() {} });
 * splitter.write("<message><bo");
 * splitter.write("dy>hi</body></message>"); // logs <message><body>hi</body></message>
 * ```
 */
export class StanzaSplitter {
  #handlers: SplitterHandlers;
  #buffer = "";
  // Where scanning resumes in #buffer, where the current stanza starts, and the tag depth inside it.
  #pos = 0;
  #start = 0;
  #depth = 0;
  #closed = false;

  constructor(handlers: SplitterHandlers) {
    this.#handlers = handlers;
  }

  /** Characters held back: an incomplete stanza or tag. */
  get pending(): number {
    return this.#buffer.length - (this.#depth === 0 ? this.#pos : this.#start);
  }

  /** Feeds decoded text. */
  write(text: string): void {
    if (this.#closed) return;
    let buffer = this.#buffer.length === 0 ? text : this.#buffer + text;
    let pos = this.#pos;
    for (;;) {
      const open = buffer.indexOf("<", pos);
      if (open === -1) {
        pos = buffer.length;
        break;
      }
      const end = buffer.indexOf(">", open + 1);
      if (end === -1) {
        pos = open; // an incomplete tag: scan it again when more text arrives
        break;
      }
      pos = end + 1;
      const next = buffer.charCodeAt(open + 1);
      if (next === 0x2f /* / */) {
        if (this.#depth === 0) {
          this.#closed = true;
          this.#handlers.streamClose();
          return;
        }
        if (--this.#depth === 0) this.#handlers.stanza(buffer.slice(this.#start, pos));
      } else if (next === 0x3f /* ? */ || next === 0x21 /* ! */) {
        continue; // not sent by servers; skipped rather than miscounted
      } else {
        if (this.#depth === 0) this.#start = open;
        if (buffer.charCodeAt(end - 1) === 0x2f /* / */) {
          if (this.#depth === 0) this.#handlers.stanza(buffer.slice(open, pos));
        } else {
          this.#depth++;
        }
      }
    }
    // Keep only what is still needed: the open stanza, or the unscanned rest.
    const keep = this.#depth === 0 ? pos : this.#start;
    if (keep === buffer.length) {
      buffer = "";
      pos = 0;
    } else if (keep > 0) {
      buffer = buffer.slice(keep);
      pos -= keep;
    }
    if (this.#depth > 0) this.#start = 0;
    this.#buffer = buffer;
    this.#pos = pos;
  }
}

/** The value of attribute `name` in the start tag of `raw` (either quote style), unescaped only for `&apos;`/`&quot;`/`&amp;`. */
export function attribute(raw: string, name: string): string | undefined {
  const tagEnd = raw.indexOf(">");
  const tag = tagEnd === -1 ? raw : raw.slice(0, tagEnd);
  let from = 0;
  for (;;) {
    const at = tag.indexOf(` ${name}=`, from);
    if (at === -1) return undefined;
    const quote = tag[at + name.length + 2];
    const valueStart = at + name.length + 3;
    if (quote !== "'" && quote !== '"') {
      from = valueStart;
      continue;
    }
    const valueEnd = tag.indexOf(quote, valueStart);
    if (valueEnd === -1) return undefined;
    return tag.slice(valueStart, valueEnd).replaceAll("&apos;", "'").replaceAll("&quot;", '"')
      .replaceAll("&amp;", "&");
  }
}

/** The local name of the top-level element in `raw` (`stream:error` keeps its prefix). */
export function elementName(raw: string): string {
  let end = 1;
  while (end < raw.length) {
    const c = raw.charCodeAt(end);
    if (c === 0x20 || c === 0x3e || c === 0x2f || c === 0x09 || c === 0x0a || c === 0x0d) break;
    end++;
  }
  return raw.slice(1, end);
}
