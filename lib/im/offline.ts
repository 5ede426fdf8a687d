// Offline messages (XEP-0160; RFC 6121 §8.5.2.2.1): a message for a user with no available
// resource is stored with a delay stamp (XEP-0203) and delivered at the next initial presence
// with non-negative priority. A per-user limit keeps storage bounded.
import { Priority } from "../router/hooks.ts";
import type { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import type { OfflineStore } from "./offline_store.ts";
import { el, type Element } from "../xml/element.ts";
import { loadXml } from "../xml/stored.ts";

/** Chat state notifications (XEP-0085) alone are not worth keeping. */
const CHAT_STATES = "http://jabber.org/protocol/chatstates";

/** Options of the offline module. */
export interface OfflineOptions {
  store: OfflineStore;
  /** Messages kept per user; 0 disables offline storage. */
  maxMessages: number;
  /** Current time, for delay stamps (tests pin it). */
  now?: () => Date;
}

/** Whether a message is one to keep for later (type normal or chat, with some content). */
export function isStorable(stanza: Element): boolean {
  const type = stanza.attrs.type ?? "normal";
  if (type !== "normal" && type !== "chat") return false;
  let content = false;
  for (const child of stanza.children) {
    if (typeof child === "string") continue;
    const ns = child.attrs.xmlns ?? NS.CLIENT;
    if (ns === NS.HINTS) {
      if (child.name === "no-store" || child.name === "no-permanent-store") return false;
      if (child.name === "store") content = true;
      continue;
    }
    if (ns === NS.CLIENT ? child.name === "body" || child.name === "subject" : ns !== CHAT_STATES) {
      content = true;
    }
  }
  return content;
}

/** Installs offline storage and delivery (the module declares `msgoffline` when it stores). */
export function offlineModule(router: Router, options: OfflineOptions): void {
  const { store, maxMessages } = options;
  const now = options.now ?? (() => new Date());
  if (maxMessages === 0) return;

  router.hooks.on("message-undelivered", ({ stanza, to }) => {
    if (!isStorable(stanza)) return;
    if (store.count(to.local) >= maxMessages) {
      throw new StanzaError("cancel", "service-unavailable", {
        text: "The recipient is offline and their message storage is full",
      });
    }
    const stored = stanza.clone();
    stored.append(
      el("delay", { xmlns: NS.DELAY, from: router.domain, stamp: now().toISOString() }),
    );
    store.add(to.local, stored.toString());
    return true;
  });

  router.hooks.on("presence-broadcast", ({ stanza, origin, previous, previousPriority }) => {
    if (stanza.attrs.type !== undefined || origin.priority < 0) return;
    if (previous !== null && previousPriority >= 0) return;
    for (const xml of store.take(origin.jid.local)) origin.send(loadXml(xml));
  }, Priority.LATE);
}
