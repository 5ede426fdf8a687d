// Querying one's archive (XEP-0313 §4): the query form (§4.1.5), results as forwarded messages
// to the querying resource (§4.2) then the iq result with <fin/> and RSM (§4.3, XEP-0059 §2),
// archive metadata (§5, #extended), and the archiving preferences of XEP-0441 (`<prefs/>` in
// urn:xmpp:mam:2). Only the owner may read or configure an archive (§8.1: `forbidden`).
import { tryParseJid } from "../jid/jid.ts";
import { accountReply, accountTarget } from "../modules/account_iq.ts";
import type { IqContext } from "../router/iq.ts";
import type { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import { buildField, buildForm } from "../forms/data_form.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el, type Element } from "../xml/element.ts";
import { loadXml } from "../xml/stored.ts";
import {
  type ArchivedMessage,
  type ArchivePolicy,
  type ArchivePrefs,
  type ArchiveStore,
  UnknownArchiveId,
} from "./archive_store.ts";
import { type PageLimits, readQuery } from "./_codec.ts";

/** What {@linkcode queryHandlers} needs. */
export interface QueryOptions extends PageLimits {
  store: ArchiveStore;
  /** Policy shown to users who have set no preferences. */
  defaultPolicy: ArchivePolicy;
}

/**
 * Runs one query (§4) on one archive: hands each result to `send` (flipped with §4.2's
 * `<flip-page/>`), and returns the `<fin/>` with its RSM set (XEP-0059 §2).
 */
export function runQuery(
  element: Element,
  archive: { store: ArchiveStore; owner: string; limits: PageLimits },
  send: (item: ArchivedMessage, queryid: string | undefined) => void,
): Element {
  const { query, flip } = readQuery(element, archive.limits);
  let page;
  try {
    page = archive.store.find(archive.owner, query);
  } catch (error) {
    if (error instanceof UnknownArchiveId) {
      throw new StanzaError("cancel", "item-not-found", { text: error.message });
    }
    throw error;
  }
  const queryid = element.attrs.queryid;
  for (const item of flip ? [...page.items].reverse() : page.items) send(item, queryid);
  const first = page.items[0];
  const last = page.items[page.items.length - 1];
  return el(
    "fin",
    { xmlns: NS.MAM, complete: page.complete ? "true" : undefined },
    el(
      "set",
      { xmlns: NS.RSM },
      first !== undefined && el("first", { index: page.index }, first.id),
      last !== undefined && el("last", {}, last.id),
      page.count !== undefined && el("count", {}, String(page.count)),
    ),
  );
}

/** The form of §4.1.5, with the #extended fields; `ids` is open (XEP-0122), not a list. */
export function queryForm(): Element {
  return buildForm({
    type: "form",
    formType: NS.MAM,
    fields: [
      { var: "with", type: "jid-single" },
      { var: "start", type: "text-single" },
      { var: "end", type: "text-single" },
      { var: "before-id", type: "text-single" },
      { var: "after-id", type: "text-single" },
    ],
  }).append(
    buildField({ var: "ids", type: "list-multi" }).append(
      el("validate", { xmlns: NS.XDATA_VALIDATE, datatype: "xs:string" }, el("open")),
    ),
  );
}

/** One result message of §4.2. */
export function resultMessage(
  item: ArchivedMessage,
  options: { to: string; from: string; queryid?: string },
): Element {
  const original = loadXml(item.stanza);
  return el(
    "message",
    { to: options.to, from: options.from, id: crypto.randomUUID() },
    el(
      "result",
      { xmlns: NS.MAM, queryid: options.queryid, id: item.id },
      el(
        "forwarded",
        { xmlns: NS.FORWARD },
        el("delay", { xmlns: NS.DELAY, stamp: new Date(item.time).toISOString() }),
        original.clone({ ...original.attrs, xmlns: NS.CLIENT }),
      ),
    ),
  );
}

/** Installs the archive's iq handlers on the account's bare JID. */
export function queryHandlers(router: Router, options: QueryOptions): void {
  const { store } = options;

  const owner = (stanza: Element, context: IqContext): { username: string; bare: string } & {
    origin: BoundSession;
  } => {
    const target = accountTarget(stanza, context);
    if (!target.own || context.origin === undefined) {
      throw new StanzaError("auth", "forbidden", { text: "Only its owner may use an archive" });
    }
    return { username: target.username, bare: target.bare, origin: context.origin };
  };

  router.iq.on("account", "query", NS.MAM, (stanza, context) => {
    const { username, bare, origin } = owner(stanza, context);
    if (stanza.attrs.type === "get") {
      return accountReply(stanza, context).append(el("query", { xmlns: NS.MAM }, queryForm()));
    }
    const element = stanza.getChild("query", NS.MAM)!;
    const fin = runQuery(
      element,
      { store, owner: username, limits: options },
      (item, queryid) =>
        origin.send(resultMessage(item, { to: origin.jid.full, from: bare, queryid })),
    );
    return accountReply(stanza, context).append(fin);
  });

  router.iq.on("account", "metadata", NS.MAM, (stanza, context) => {
    const { username } = owner(stanza, context);
    if (stanza.attrs.type !== "get") {
      throw new StanzaError("modify", "bad-request", { text: "Metadata is read with a get" });
    }
    const bounds = store.bounds(username);
    return accountReply(stanza, context).append(
      el(
        "metadata",
        { xmlns: NS.MAM },
        bounds !== null && el("start", {
          id: bounds.first.id,
          timestamp: new Date(bounds.first.time).toISOString(),
        }),
        bounds !== null && el("end", {
          id: bounds.last.id,
          timestamp: new Date(bounds.last.time).toISOString(),
        }),
      ),
    );
  });

  router.iq.on("account", "prefs", NS.MAM, (stanza, context) => {
    const { username } = owner(stanza, context);
    if (stanza.attrs.type === "set") {
      store.setPrefs(username, readPrefs(stanza.getChild("prefs", NS.MAM)!));
    }
    const prefs = store.prefs(username) ??
      { default: options.defaultPolicy, always: [], never: [] };
    return accountReply(stanza, context).append(prefsElement(prefs));
  });
}

const POLICIES: readonly string[] = ["always", "roster", "never"];

/** XEP-0441 `<prefs/>`: a default and the always/never lists of JIDs, kept as bare JIDs. */
export function readPrefs(prefs: Element): ArchivePrefs {
  const policy = prefs.attrs.default;
  if (policy === undefined || !POLICIES.includes(policy)) {
    throw new StanzaError("modify", "bad-request", {
      text: "<prefs/> needs default='always', 'roster' or 'never'",
    });
  }
  const list = (name: string) => {
    const jids: string[] = [];
    for (const item of prefs.getChild(name)?.getChildren("jid") ?? []) {
      const jid = tryParseJid(item.getText().trim());
      if (jid === null) {
        throw new StanzaError("modify", "jid-malformed", { text: `Not a JID: ${item.getText()}` });
      }
      if (!jids.includes(jid.bare)) jids.push(jid.bare);
    }
    return jids;
  };
  const never = list("never");
  return { default: policy as ArchivePolicy, always: list("always"), never };
}

/** The `<prefs/>` element of a user's preferences. */
export function prefsElement(prefs: ArchivePrefs): Element {
  return el(
    "prefs",
    { xmlns: NS.MAM, default: prefs.default },
    el("always", {}, ...prefs.always.map((jid) => el("jid", {}, jid))),
    el("never", {}, ...prefs.never.map((jid) => el("jid", {}, jid))),
  );
}
