// Elements kept as XML text in the database (offline messages, pending subscription requests,
// vCards, private XML), parsed back on read with the same restrictions as a client stream.
import { Element } from "./element.ts";
import { StreamParser } from "./stream_parser.ts";

/** Serializes an element for storage; it carries its own namespace declaration. */
export function storeXml(element: Element): string {
  return element.toString();
}

/**
 * Parses XML written by {@linkcode storeXml} back into an element. Elements without a namespace
 * are in `jabber:client`.
 *
 * @throws {Error} when the text is not exactly one well-formed element.
 */
export function loadXml(xml: string): Element {
  const found: Element[] = [];
  let failure: string | undefined;
  const parser = new StreamParser({
    streamOpen: () => {},
    stanza: (element) => found.push(element),
    streamClose: () => {},
    error: (_condition, text) => failure ??= text,
  }, { maxStanzaSize: Math.max(xml.length + 1, 1024), maxDepth: 1000 });
  parser.writeText(`<stored xmlns='jabber:client'>${xml}</stored>`);
  if (failure !== undefined || found.length !== 1) {
    throw new Error(
      `Cannot read stored XML: ${failure ?? `expected one element, got ${found.length}`}`,
    );
  }
  return found[0];
}
