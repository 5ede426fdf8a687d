// Bookmark conversion between Private XML Storage (XEP-0049, with XEP-0048's
// `<storage xmlns='storage:bookmarks'/>`) and PEP Native Bookmarks (XEP-0402 §5.3): a legacy
// list stored in private XML becomes one `urn:xmpp:bookmarks:1` item per conference (XEP-0402
// §3, item id the room JID, §5.3.2 "Publishing via the old specification": unchanged items are
// not republished, removed ones are retracted), and each publish or retract on that node is
// collated back into the private XML copy (§5.3.1 "Publishing via this specification"), so that
// clients of either kind see the same bookmarks. The node is private (XEP-0411 §5, XEP-0223):
// whitelist access, persistent, any number of items. Writes made by the conversion go through
// the modules' APIs, which do not call the change listeners, so nothing converts back.
import type { PepApi } from "../pep/mod.ts";
import type { PrivateStorageApi } from "../private_storage/mod.ts";
import { el, type Element } from "../xml/element.ts";

/** XEP-0402's node and namespace. */
export const NS_BOOKMARKS2 = "urn:xmpp:bookmarks:1";
/** XEP-0048's storage namespace. */
export const NS_LEGACY = "storage:bookmarks";

/** XEP-0402 §5.3 (§6): the feature of a server that unifies private XML and PEP bookmarks. */
export const BOOKMARKS_FEATURES: readonly string[] = [`${NS_BOOKMARKS2}#compat`];

/** XEP-0402 §3.3's publish-options, as a node configuration. */
const NODE_CONFIG = {
  persistItems: true,
  maxItems: "max" as const,
  accessModel: "whitelist" as const,
  sendLastPublishedItem: "never" as const,
};

/**
 * A legacy `<conference jid=…/>` as a XEP-0402 item: its id and payload, or undefined. Both
 * specifications give `autojoin` the same boolean type, so it is copied as it is (as Prosody's
 * mod_bookmarks does).
 */
export function toBookmarks2(conference: Element): { id: string; payload: Element } | undefined {
  const jid = conference.attrs.jid;
  if (jid === undefined || jid === "") return undefined;
  const attrs: Record<string, string> = {};
  if (conference.attrs.name !== undefined) attrs.name = conference.attrs.name;
  if (conference.attrs.autojoin !== undefined) attrs.autojoin = conference.attrs.autojoin;
  const nick = conference.getChildText("nick");
  const password = conference.getChildText("password");
  const payload = el(
    "conference",
    { xmlns: NS_BOOKMARKS2, ...attrs },
    nick !== undefined && el("nick", {}, nick),
    password !== undefined && el("password", {}, password),
  );
  return { id: jid, payload };
}

/** A XEP-0402 item as a legacy `<conference/>` (the jid is the item id). */
export function toLegacy(id: string, payload: Element): Element {
  const attrs: Record<string, string> = { jid: id };
  if (payload.attrs.name !== undefined) attrs.name = payload.attrs.name;
  if (payload.attrs.autojoin !== undefined) attrs.autojoin = payload.attrs.autojoin;
  const nick = payload.getChildText("nick");
  const password = payload.getChildText("password");
  return el(
    "conference",
    attrs,
    nick !== undefined && el("nick", {}, nick),
    password !== undefined && el("password", {}, password),
  );
}

/** Whether two elements are the same XML, whatever the order of their attributes. */
export function sameXml(a: Element, b: Element): boolean {
  const attrs = (e: Element) =>
    JSON.stringify(Object.entries(e.attrs).filter(([, v]) => v !== undefined).sort());
  if (a.name !== b.name || attrs(a) !== attrs(b)) return false;
  const children = (e: Element) =>
    e.children.filter((child) => typeof child !== "string" || child.trim() !== "");
  const x = children(a);
  const y = children(b);
  return x.length === y.length &&
    x.every((child, i) => {
      const other = y[i];
      if (typeof child === "string" || typeof other === "string") return child === other;
      return sameXml(child, other);
    });
}

/** Installs the conversion in both directions. */
export function bookmarksConversion(pep: PepApi, privateStorage: PrivateStorageApi): void {
  // Legacy list stored: publish what is new or changed, retract what is gone.
  privateStorage.onSet((username, element) => {
    if (element.name !== "storage" || element.attrs.xmlns !== NS_LEGACY) return;
    const wanted = new Map<string, Element>();
    for (const conference of element.getChildren("conference")) {
      const item = toBookmarks2(conference);
      if (item !== undefined) wanted.set(item.id, item.payload);
    }
    const existing = new Map(
      pep.items(username, NS_BOOKMARKS2).map((item) => [item.id, item.payload]),
    );
    for (const [id, payload] of wanted) {
      const old = existing.get(id);
      if (old !== undefined && sameXml(old, payload)) continue;
      pep.publish(username, NS_BOOKMARKS2, id, payload, NODE_CONFIG);
    }
    for (const id of existing.keys()) {
      if (!wanted.has(id)) pep.retract(username, NS_BOOKMARKS2, id);
    }
  });

  // A XEP-0402 item published or retracted: collate the node into the private XML copy, keeping
  // the legacy list's <url/> bookmarks, which XEP-0402 has no place for.
  pep.onChange(({ username, node }) => {
    if (node !== NS_BOOKMARKS2) return;
    const old = privateStorage.get(username, "storage", NS_LEGACY);
    const storage = el(
      "storage",
      { xmlns: NS_LEGACY },
      ...pep.items(username, NS_BOOKMARKS2).map((item) => toLegacy(item.id, item.payload)),
      ...(old?.getChildren("url") ?? []).map((url) => url.clone()),
    );
    privateStorage.set(username, storage);
  });
}
