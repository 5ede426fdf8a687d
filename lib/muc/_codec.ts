// Readers and builders for MUC payloads read or built in several places (XEP-0045 §19.1, §19.2).
import { el, type Element, type XmlNode } from "../xml/element.ts";
import { NS } from "../stanza/ns.ts";

/** The `<x xmlns='http://jabber.org/protocol/muc'/>` of a join presence (XEP-0045 §7.2.1). */
export interface MucJoin {
  /** XEP-0045 §7.2.6; undefined when no `<password/>` was sent. */
  password: string | undefined;
}

/** Reads the join payload, or undefined if the presence has no MUC `<x/>`. */
export function readMucJoin(stanza: Element): MucJoin | undefined {
  const x = stanza.getChild("x", NS.MUC);
  if (x === undefined) return undefined;
  return { password: x.getChildText("password") };
}

/**
 * What an occupant's presence carries to others: its child elements (`<show/>`, `<status/>`,
 * `<priority/>`, caps, ...) without the MUC `<x/>` elements, which the room rebuilds, and without
 * the whitespace between them.
 */
export function presencePayload(stanza: Element): readonly XmlNode[] {
  const out: Element[] = [];
  for (const child of stanza.children) {
    if (typeof child === "string") continue;
    const ns = child.attrs.xmlns;
    if (child.name === "x" && (ns === NS.MUC || ns === NS.MUC_USER)) continue;
    out.push(child);
  }
  return out;
}

/** The `<item/>` of a muc#user `<x/>`: `jid` only when the recipient may see it. */
export function mucItem(affiliation: string, role: string, jid?: string): Element {
  return el("item", { jid, affiliation, role });
}

/**
 * A muc#user `<x/>`: status 201 ("room created") before the item, as in XEP-0045 §10.1.1 and
 * Prosody; every other status after it, ascending, so 110 ("this is you") comes last.
 */
export function mucUserX(item: Element | undefined, statuses: Iterable<number> = []): Element {
  const codes = [...statuses].sort((a, b) => a - b);
  const x = el("x", { xmlns: NS.MUC_USER });
  if (codes.includes(201)) x.append(el("status", { code: 201 }));
  x.append(item);
  for (const code of codes) if (code !== 201) x.append(el("status", { code }));
  return x;
}
