// Readers and builders for MUC payloads read or built in several places (XEP-0045 §19.1, §19.2).
import { el, type Element, type XmlNode } from "../xml/element.ts";
import { NS } from "../stanza/ns.ts";

/** XEP-0045 §7.2.14: how much discussion history a joiner wants. */
export interface HistoryRequest {
  maxStanzas?: number;
  maxChars?: number;
  seconds?: number;
  /** Unix time in milliseconds. */
  since?: number;
}

/** The `<x xmlns='http://jabber.org/protocol/muc'/>` of a join presence (XEP-0045 §7.2.1). */
export interface MucJoin {
  /** XEP-0045 §7.2.6; undefined when no `<password/>` was sent. */
  password: string | undefined;
  /** XEP-0045 §7.2.14; undefined when no `<history/>` was sent. */
  history: HistoryRequest | undefined;
}

/** Reads the join payload, or undefined if the presence has no MUC `<x/>`. */
export function readMucJoin(stanza: Element): MucJoin | undefined {
  const x = stanza.getChild("x", NS.MUC);
  if (x === undefined) return undefined;
  const h = x.getChild("history");
  let history: HistoryRequest | undefined;
  if (h !== undefined) {
    history = {};
    const count = (name: string) => {
      const value = h.attrs[name];
      return value !== undefined && /^\s*[0-9]{1,12}\s*$/.test(value) ? Number(value) : undefined;
    };
    history.maxStanzas = count("maxstanzas");
    history.maxChars = count("maxchars");
    history.seconds = count("seconds");
    const since = h.attrs.since === undefined ? NaN : Date.parse(h.attrs.since);
    if (!Number.isNaN(since)) history.since = since;
  }
  return { password: x.getChildText("password"), history };
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

/** What an `<item/>` may say beyond affiliation, role and real JID (XEP-0045 §9, §8). */
export interface ItemExtra {
  /** The new nickname, on a nickname change (§7.6, status 303). */
  nick?: string;
  /** Nickname of the moderator or admin who made the change. */
  actor?: string;
  /**
   * That moderator's or admin's real full JID: shown only to those who may see real JIDs, never in
   * the self-presence of the occupant acted on (as Prosody).
   */
  actorJid?: string;
  reason?: string;
}

/** The `<item/>` of a muc#user `<x/>`: `jid` only when the recipient may see it. */
export function mucItem(
  affiliation: string,
  role: string,
  jid?: string,
  extra: ItemExtra = {},
): Element {
  return el(
    "item",
    { jid, affiliation, role, nick: extra.nick },
    extra.actor !== undefined && el("actor", { jid: jid && extra.actorJid, nick: extra.actor }),
    extra.reason !== undefined && el("reason", {}, extra.reason),
  );
}

/**
 * A muc#user `<x/>`: status 201 ("room created") before the item, as in XEP-0045 §10.1.1 and
 * Prosody; every other status after it, ascending, so 110 ("this is you") comes last.
 */
export function mucUserX(item: Element | undefined, statuses: Iterable<number> = []): Element {
  const codes = [...new Set(statuses)].sort((a, b) => a - b);
  const x = el("x", { xmlns: NS.MUC_USER });
  if (codes.includes(201)) x.append(el("status", { code: 201 }));
  x.append(item);
  for (const code of codes) if (code !== 201) x.append(el("status", { code }));
  return x;
}

/** XEP-0082 date-time in UTC without milliseconds, as XEP-0203 stamps are usually written. */
export function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
