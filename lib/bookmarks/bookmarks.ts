// Bookmarks kept in step in three places: PEP Native Bookmarks (XEP-0402, one
// `urn:xmpp:bookmarks:1` item per conference, item id the room JID), the legacy list in Private
// XML Storage (XEP-0049 with XEP-0048's `<storage xmlns='storage:bookmarks'/>`), and the same
// legacy list as the item "current" of the PEP node `storage:bookmarks` (XEP-0048 §3.2 via
// XEP-0223, XEP-0411). A legacy list stored either way updates the XEP-0402 node item by item
// (XEP-0402 §6.2 "Publishing via the old specification": unchanged items are not republished,
// removed ones are retracted) and is copied to the other legacy place; a XEP-0402 publish or
// retract is collated into both legacy copies (§6.1 "Publishing via this specification"),
// keeping the legacy `<url/>` bookmarks XEP-0402 has no place for. A copy is written only when
// it changes. Every node is private (XEP-0411 §5, XEP-0223): one that exists with another access
// model is left alone. Writes made by the conversion go through the modules' APIs, which call no
// change listeners, so nothing converts back.
import type { PepApi } from "../pep/mod.ts";
import type { PrivateStorageApi } from "../private_storage/mod.ts";
import { el, type Element } from "../xml/element.ts";

/** XEP-0402's node and namespace. */
export const NS_BOOKMARKS2 = "urn:xmpp:bookmarks:1";
/** XEP-0048's storage namespace, also the legacy PEP node's name (XEP-0048 §3.2). */
export const NS_LEGACY = "storage:bookmarks";
/** The legacy PEP node's one item (XEP-0223 §3). */
export const LEGACY_ITEM = "current";

/** XEP-0402 §6: the feature of a server that unifies XEP-0402 and legacy PEP bookmarks. */
export const COMPAT_PEP_FEATURE = `${NS_BOOKMARKS2}#compat-pep`;
/**
 * With private XML storage too: XEP-0402 §6's unification with private XML, and XEP-0411 §3's
 * conversion between private XML and the legacy PEP node.
 */
export const PRIVATE_XML_FEATURES: readonly string[] = [
  `${NS_BOOKMARKS2}#compat`,
  "urn:xmpp:bookmarks-conversion:0",
];

/** XEP-0402 §3.3's publish-options, as a node configuration. */
const NODE_CONFIG = {
  persistItems: true,
  maxItems: "max" as const,
  accessModel: "whitelist" as const,
  sendLastPublishedItem: "never" as const,
};

/** XEP-0223 §3's for the legacy list: one persistent item only the owner may see. */
const LEGACY_NODE_CONFIG = {
  persistItems: true,
  maxItems: 1,
  accessModel: "whitelist" as const,
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

/** Installs the conversion; without private XML storage, between the two PEP nodes only. */
export function bookmarksConversion(pep: PepApi, privateStorage?: PrivateStorageApi): void {
  /** XEP-0411 §5: a node that exists readable by others is not written to. */
  const isPrivate = (username: string, node: string) => {
    const config = pep.node(username, node);
    return config === undefined || config.accessModel === "whitelist";
  };
  const legacyInPep = (username: string) => {
    const payload = pep.items(username, NS_LEGACY).at(-1)?.payload;
    return payload?.name === "storage" && payload.attrs.xmlns === NS_LEGACY ? payload : undefined;
  };
  const legacyInPrivate = (username: string) =>
    privateStorage?.get(username, "storage", NS_LEGACY) ?? undefined;

  /** A legacy list into the XEP-0402 node: publish what is new or changed, retract what is gone. */
  const toNative = (username: string, storage: Element) => {
    if (!isPrivate(username, NS_BOOKMARKS2)) return;
    const wanted = new Map<string, Element>();
    for (const conference of storage.getChildren("conference")) {
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
  };

  /**
   * The XEP-0402 node as a legacy list with these `<url/>`s, written to the legacy copies but
   * `source` (which the client has just written itself) where it differs.
   */
  const toLegacyCopies = (username: string, urls: Element[], source?: "private" | "pep") => {
    const storage = el(
      "storage",
      { xmlns: NS_LEGACY },
      ...pep.items(username, NS_BOOKMARKS2).map((item) => toLegacy(item.id, item.payload)),
      ...urls.map((url) => url.clone()),
    );
    if (source !== "private" && privateStorage !== undefined) {
      const old = legacyInPrivate(username);
      if (old === undefined || !sameXml(old, storage)) privateStorage.set(username, storage);
    }
    if (source !== "pep" && isPrivate(username, NS_LEGACY)) {
      const old = legacyInPep(username);
      if (old === undefined || !sameXml(old, storage)) {
        pep.publish(username, NS_LEGACY, LEGACY_ITEM, storage, LEGACY_NODE_CONFIG);
      }
    }
  };

  privateStorage?.onSet((username, element) => {
    if (element.name !== "storage" || element.attrs.xmlns !== NS_LEGACY) return;
    toNative(username, element);
    toLegacyCopies(username, element.getChildren("url"), "private");
  });

  pep.onChange(({ username, node, kind, payload }) => {
    if (node === NS_BOOKMARKS2) {
      const urls = (legacyInPrivate(username) ?? legacyInPep(username))?.getChildren("url");
      toLegacyCopies(username, urls ?? []);
    } else if (
      node === NS_LEGACY && kind === "publish" && payload?.name === "storage" &&
      payload.attrs.xmlns === NS_LEGACY
    ) {
      // A retract of the legacy item is not taken as clearing every bookmark.
      toNative(username, payload);
      toLegacyCopies(username, payload.getChildren("url"), "pep");
    }
  });
}
