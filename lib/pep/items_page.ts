// Paging of item retrieval with Result Set Management: XEP-0060 §6.5.4 ("Returning Some Items",
// the `pubsub#rsm` feature) and XEP-0059 §2. The result set is a node's items in publish order,
// oldest first, as a retrieval without paging returns them: `<max/>` alone gives the oldest page,
// `<before/>` (empty) the newest (§2.5), `<after/>` and `<before/>` with an item id the pages
// next to it, `<index/>` a page by position (§2.4). The page size is bounded by the server.
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el, type Element } from "../xml/element.ts";
import type { ItemPage, PageStart } from "./pep_store.ts";

/** What an RSM `<set/>` asks for. */
export interface PageRequest {
  start: PageStart;
  /** The page size, at most the server's bound; 0 asks for the count only (XEP-0059 §2.6). */
  max: number;
}

/** Reads the `<set xmlns='…rsm'/>` beside `<items/>`; undefined when there is none. */
export function readPageRequest(pubsub: Element, maxPage: number): PageRequest | undefined {
  const set = pubsub.getChild("set", NS.RSM);
  if (set === undefined) return undefined;
  const number = (name: string): number | undefined => {
    const value = set.getChildText(name)?.trim();
    if (value === undefined) return undefined;
    if (!/^[0-9]{1,9}$/.test(value)) {
      throw new StanzaError("modify", "bad-request", {
        text: `RSM <${name}/> must be a non-negative integer`,
      });
    }
    return Number(value);
  };
  const max = Math.min(number("max") ?? maxPage, maxPage);
  const after = set.getChildText("after")?.trim();
  const before = set.getChildText("before")?.trim();
  const index = number("index");
  let start: PageStart = {};
  if (after !== undefined) {
    if (after === "") {
      throw new StanzaError("modify", "bad-request", { text: "RSM <after/> must name an item" });
    }
    start = { after };
  } else if (before !== undefined) start = before === "" ? { last: true } : { before };
  else if (index !== undefined) start = { index };
  return { start, max };
}

/** The `<set/>` of a page's result (XEP-0059 §2.1): first with its index, last, count. */
export function pageSet(page: ItemPage): Element {
  const first = page.items[0];
  const last = page.items[page.items.length - 1];
  return el(
    "set",
    { xmlns: NS.RSM },
    first !== undefined && el("first", { index: String(page.index) }, first.id),
    last !== undefined && el("last", {}, last.id),
    el("count", {}, String(page.count)),
  );
}
