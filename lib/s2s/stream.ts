// What both directions of a server-to-server stream share (RFC 6120 §4, §9): the stream header
// in the `jabber:server` namespace with the dialback prefix declared (XEP-0220 §2.1), the parser
// with its limits, stream errors and the close, and the translation of stanzas between the
// wire's `jabber:server` and the router's `jabber:client`.
import type { Transport } from "../net/transport.ts";
import { NS } from "../stanza/ns.ts";
import { type StreamErrorCondition, streamErrorXml } from "../c2s/stream_error.ts";
import type { Element } from "../xml/element.ts";
import { type ParserErrorCondition, StreamParser } from "../xml/stream_parser.ts";

export const NS_SERVER = "jabber:server";
export const NS_DIALBACK = "jabber:server:dialback";
/** XEP-0220 §2.1: the stream feature that says dialback is offered (with error support). */
export const NS_DIALBACK_FEATURE = "urn:xmpp:features:dialback";

/** XEP-0288: the stream feature, and the element that turns bidirectionality on. */
export const NS_BIDI_FEATURE = "urn:xmpp:features:bidi";
export const NS_BIDI = "urn:xmpp:bidi";

/** Limits of one s2s stream. */
export interface S2sStreamLimits {
  maxStanzaBytes: number;
  maxDepth: number;
}

/** What a stream subclass handles. */
export interface S2sStreamEvents {
  opened(attrs: Record<string, string>): void;
  element(element: Element): void;
  ended(): void;
}

let nextStreamNumber = 1;

/** One s2s connection: parsing, writing, errors and the end. */
export abstract class S2sStream {
  readonly number = nextStreamNumber++;
  protected readonly transport: Transport;
  protected readonly parser: StreamParser;
  #log: (line: string) => void;
  #headerSent = false;
  #closing = false;
  #ended = false;

  constructor(transport: Transport, limits: S2sStreamLimits, log: (line: string) => void) {
    this.transport = transport;
    this.#log = log;
    this.parser = new StreamParser({
      streamOpen: (name, ns, attrs) => {
        if (name !== "stream" || ns !== NS.STREAMS) {
          return this.closeWithError("invalid-namespace", "Expected a stream");
        }
        if (attrs.xmlns !== NS_SERVER) {
          return this.closeWithError(
            "invalid-namespace",
            "The default namespace must be jabber:server",
          );
        }
        this.opened(attrs);
      },
      stanza: (element) => {
        if (!this.#closing) this.element(element);
      },
      streamClose: () => this.close(),
      error: (condition: ParserErrorCondition, text) => this.closeWithError(condition, text),
    }, { maxStanzaSize: limits.maxStanzaBytes, maxDepth: limits.maxDepth });
  }

  /** Starts reading. Subclasses call it once their state is set up. */
  protected startReading(): void {
    this.transport.start({
      data: (bytes) => this.parser.write(bytes),
      closed: (error) => {
        if (error) this.log(`connection failed: ${error.message}`);
        this.#end();
      },
      overflow: (queued) => this.closeWithError("policy-violation", `${queued} bytes unread`),
    });
  }

  protected abstract opened(attrs: Record<string, string>): void;
  protected abstract element(element: Element): void;
  /** The connection is gone (once). */
  protected abstract ended(): void;

  get isEnded(): boolean {
    return this.#ended;
  }

  get isClosing(): boolean {
    return this.#closing || this.#ended;
  }

  log(line: string): void {
    this.#log(`s2s${this.number} ${this.describe()} ${line}`);
  }

  /** Who this stream is with, for log lines. */
  protected abstract describe(): string;

  /** Writes our stream header (once per stream). */
  protected sendHeader(attrs: Record<string, string | undefined>): void {
    if (this.#headerSent) return;
    this.#headerSent = true;
    let extra = "";
    for (const [key, value] of Object.entries(attrs)) {
      if (value !== undefined) extra += ` ${key}='${escapeAttr(value)}'`;
    }
    this.transport.write(
      `<?xml version='1.0'?><stream:stream xmlns='${NS_SERVER}' xmlns:stream='${NS.STREAMS}' ` +
        `xmlns:db='${NS_DIALBACK}' version='1.0'${extra}>`,
    );
  }

  /** After STARTTLS or SASL both sides open a new stream. */
  protected restartStream(): void {
    this.parser.reset();
    this.#headerSent = false;
  }

  get headerSent(): boolean {
    return this.#headerSent;
  }

  write(xml: string): void {
    if (!this.#ended) this.transport.write(xml);
  }

  /** Sends a stream error and closes (RFC 6120 §4.9). */
  closeWithError(condition: StreamErrorCondition | ParserErrorCondition, text?: string): void {
    if (this.#closing) return;
    this.log(`stream error ${condition}${text ? `: ${text}` : ""}`);
    this.errorHeader();
    this.write(streamErrorXml(condition as StreamErrorCondition, text));
    this.close();
  }

  /** A stream error needs our header first; subclasses know what it says. */
  protected abstract errorHeader(): void;

  /** Ends the stream cleanly. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#headerSent) this.write("</stream:stream>");
    this.transport.close();
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.#closing = true;
    this.transport.destroy();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#closing = true;
    this.ended();
  }
}

/**
 * A stanza read from another server, as the router expects it: in `jabber:client` (children
 * inherit it), so that local clients receive it as if it came from their server.
 */
export function fromWire(stanza: Element): Element {
  if (stanza.attrs.xmlns === NS_SERVER) stanza.attrs.xmlns = NS.CLIENT;
  return stanza;
}

/** A routed stanza as written on an s2s stream: its `jabber:client` becomes the stream's default. */
export function toWire(stanza: Element): string {
  return stanza.toString(stanza.attrs.xmlns === undefined ? NS_SERVER : NS.CLIENT);
}

function escapeAttr(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/'/g, "&apos;").replace(/</g, "&lt;");
}

/** Whether an element is one of the three stanzas (in either content namespace). */
export function isStanza(element: Element): boolean {
  return (element.name === "message" || element.name === "presence" || element.name === "iq") &&
    (element.attrs.xmlns === NS_SERVER || element.attrs.xmlns === NS.CLIENT);
}
