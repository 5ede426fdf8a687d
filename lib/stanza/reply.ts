// Replies to stanzas: swap addresses, keep the id, never answer an error (RFC 6120 §8.3.1).
import { Element } from "../xml/element.ts";
import { StanzaError } from "./stanza_error.ts";

/** An empty stanza of the same kind, addressed back to the sender, with the same id. */
export function reply(stanza: Element, attrs: Record<string, string> = {}): Element {
  const out: Record<string, string> = {};
  if (stanza.attrs.from !== undefined) out.to = stanza.attrs.from;
  if (stanza.attrs.to !== undefined) out.from = stanza.attrs.to;
  if (stanza.attrs.id !== undefined) out.id = stanza.attrs.id;
  if (stanza.name === "iq") out.type = "result";
  else if (stanza.attrs.type !== undefined && stanza.name === "message") {
    out.type = stanza.attrs.type;
  }
  return new Element(stanza.name, { ...out, ...attrs });
}

/** True for stanzas that must never be answered with an error. */
export function isError(stanza: Element): boolean {
  return stanza.attrs.type === "error";
}

/**
 * The error reply for a stanza, or undefined if the stanza is itself an error
 * (answering errors with errors can loop between two entities).
 * Message and presence errors carry the original payload back, as RFC 6120 §8.2 allows.
 */
export function errorReply(stanza: Element, error: StanzaError): Element | undefined {
  if (isError(stanza)) return undefined;
  const out = new Element(stanza.name, {});
  if (stanza.attrs.from !== undefined) out.attrs.to = stanza.attrs.from;
  if (stanza.attrs.to !== undefined) out.attrs.from = stanza.attrs.to;
  if (stanza.attrs.id !== undefined) out.attrs.id = stanza.attrs.id;
  out.attrs.type = "error";
  if (stanza.name !== "iq") {
    for (const child of stanza.children) if (typeof child !== "string") out.append(child);
  }
  return out.append(error.toElement(stanza.attrs.to));
}
