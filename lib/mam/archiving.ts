// Archiving (XEP-0313 §6.1.1 "User Archives", §3.5 "Communicating the archive ID"): the messages a
// user sends or receives with conversation content go into their archive, once each, and the copy
// delivered to the recipient carries a XEP-0359 <stanza-id/> naming where it is kept. Hints of
// XEP-0334 (§4.1 no-permanent-store, §4.2 no-store, §4.4 store) are honoured; XEP-0359 §3 rule 2:
// a <stanza-id/> that claims to come from the account is removed, whoever sent it.
//
// Two router hooks: `client-stanza` for what a local client sends (the sender's archive), `inbound`
// for what reaches a local account (the recipient's archive), before delivery or offline storage,
// and after access control (blocked messages are not archived, §6.1: "only contain messages
// accepted for delivery"). Every forked or carbon copy comes from that one routing, so each
// message is archived once per archive.
import { type Jid, tryParseJid } from "../jid/jid.ts";
import { Priority } from "../router/hooks.ts";
import type { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import { el, type Element } from "../xml/element.ts";
import type { ArchivePolicy, ArchiveStore } from "./archive_store.ts";

/**
 * The sender's own stanza-id is added before carbons copies the message (XEP-0313 §3.5: "SHOULD
 * include the element as a child of the forwarded message when using XEP-0280") and removed
 * again before routing (§3.5: "MUST NOT include the <stanza-id/> element in messages addressed
 * to JIDs that do not have permissions to access the archive"). Carbons runs at LATE.
 */
const AFTER_CARBONS = Priority.LATE - 1;

/**
 * Whether a message is worth archiving: type chat or normal (not error, groupchat or headline),
 * not hinted away, with a body, a subject, a store hint, or one of the payloads Prosody also keeps
 * (encrypted, receipts, markers, invitations, call setup). Chat states alone are not.
 */
export function isArchivable(stanza: Element): boolean {
  const type = stanza.attrs.type ?? "normal";
  if (type !== "chat" && type !== "normal") return false;
  if (stanza.getChild("no-store", NS.HINTS) || stanza.getChild("no-permanent-store", NS.HINTS)) {
    return false;
  }
  if (stanza.getChild("store", NS.HINTS)) return true;
  for (const child of stanza.children) {
    if (typeof child === "string") continue;
    const ns = child.attrs.xmlns ?? NS.CLIENT;
    if (ns === NS.CLIENT && (child.name === "body" || child.name === "subject")) return true;
    if (
      ns === NS.EME || ns === NS.RECEIPTS || ns === NS.CHAT_MARKERS || ns === NS.CONFERENCE ||
      ns === NS.JINGLE_MESSAGE
    ) return true;
    if (ns === NS.MUC_USER && child.getChild("invite")) return true;
  }
  return false;
}

/** Removes, in place, every direct `<stanza-id/>` child whose `by` is `by` (XEP-0359 §3, rule 2). */
export function stripStanzaIds(stanza: Element, by: string): void {
  const children = stanza.children;
  for (let i = children.length - 1; i >= 0; i--) {
    const child = children[i];
    if (
      typeof child !== "string" && child.name === "stanza-id" &&
      child.attrs.xmlns === NS.STANZA_ID && tryParseJid(child.attrs.by)?.full === by
    ) children.splice(i, 1);
  }
}

/** The copy kept in the archive: in jabber:client, without chat states or our stanza-id. */
export function archivedCopy(stanza: Element): string {
  const copy = stanza.clone({ ...stanza.attrs, xmlns: NS.CLIENT });
  const children = copy.children;
  for (let i = children.length - 1; i >= 0; i--) {
    const child = children[i];
    if (typeof child === "string") continue;
    if (child.attrs.xmlns === NS.CHAT_STATES || child.attrs.xmlns === NS.STANZA_ID) {
      children.splice(i, 1);
    }
  }
  return copy.toString();
}

/** A prepared JID's bare part and resource, without preparing it again. */
function splitJid(jid: string): { bare: string; resource: string } {
  const slash = jid.indexOf("/");
  return slash < 0
    ? { bare: jid, resource: "" }
    : { bare: jid.slice(0, slash), resource: jid.slice(slash + 1) };
}

/** What {@linkcode archivingHooks} needs. */
export interface ArchivingOptions {
  store: ArchiveStore;
  /** Policy for users without preferences. */
  defaultPolicy: ArchivePolicy;
  /** Whether `contact` (bare JID) is in the roster of `username`, for the "roster" policy. */
  inRoster(username: string, contact: string): boolean;
  /** Whether a local account exists. */
  accountExists(username: string): boolean;
  log(line: string): void;
}

/** Installs archiving on the router's hooks. */
export function archivingHooks(router: Router, options: ArchivingOptions): void {
  const { store, log } = options;

  /** XEP-0441 preferences: never wins over always, then the default. */
  const allows = (username: string, contact: string): boolean => {
    const prefs = store.prefs(username);
    if (prefs?.never.includes(contact)) return false;
    if (prefs?.always.includes(contact)) return true;
    const policy = prefs?.default ?? options.defaultPolicy;
    if (policy === "roster") return options.inRoster(username, contact);
    return policy === "always";
  };

  /** Archives into `owner`'s archive; a failure is logged and the message goes on unarchived. */
  const archive = (
    owner: string,
    other: { bare: string; resource: string },
    direction: "in" | "out",
    stanza: Element,
  ): string | undefined => {
    try {
      return store.append(owner, {
        with: other.bare,
        withResource: other.resource,
        direction,
        stanza: archivedCopy(stanza),
      });
    } catch (error) {
      log(
        `error archiving a message for ${owner}: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
      return undefined;
    }
  };

  /**
   * Whether a message from a local client can reach `to`: a local account, a component, or
   * (with federation) an account elsewhere.
   */
  const reachable = (to: Jid): boolean => {
    if (to.domain === router.domain) {
      if (to.local === "") return false;
      return router.sessionsOf(to.bare).length > 0 || options.accountExists(to.local);
    }
    return router.reaches(to.full);
  };

  // The sender's archive.
  router.hooks.on("client-stanza", ({ stanza, origin }) => {
    if (stanza.name !== "message") return;
    const by = origin.jid.bare;
    stripStanzaIds(stanza, by);
    if (!isArchivable(stanza)) return;
    const to = stanza.attrs.to === undefined ? origin.jid.toBare() : tryParseJid(stanza.attrs.to);
    // Messages to oneself are archived once, as received (below).
    if (to === null || to.bare === by || !reachable(to)) return;
    if (!allows(origin.jid.local, to.bare)) return;
    const id = archive(origin.jid.local, to, "out", stanza);
    if (id !== undefined) stanza.append(el("stanza-id", { xmlns: NS.STANZA_ID, by, id }));
  }, Priority.DEFAULT);

  router.hooks.on("client-stanza", ({ stanza, origin }) => {
    if (stanza.name === "message") stripStanzaIds(stanza, origin.jid.bare);
  }, AFTER_CARBONS);

  // The recipient's archive, before delivery, offline storage and carbons.
  router.hooks.on("inbound", ({ stanza, to }) => {
    if (stanza.name !== "message") return;
    stripStanzaIds(stanza, to.bare);
    if (!isArchivable(stanza)) return;
    // The router stamped 'from' with a bound session's JID, or a component did with its own:
    // already prepared, so splitting it is enough.
    const from = splitJid(stanza.attrs.from ?? router.domain);
    if (!allows(to.local, from.bare)) return;
    const id = archive(to.local, from, "in", stanza);
    if (id !== undefined) {
      stanza.append(el("stanza-id", { xmlns: NS.STANZA_ID, by: to.bare, id }));
    }
  }, Priority.LATE);
}
