// vcard-temp (XEP-0054 §3.1–3.3): a user publishes their own vCard; anyone may read it.
import type { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import type { VcardStore } from "../storage/vcard_store.ts";
import { el, type Element } from "../xml/element.ts";
import { accountReply, accountTarget } from "../modules/account_iq.ts";

/** Largest vCard accepted, in bytes of XML (room for a small embedded photo). */
export const VCARD_MAX_BYTES = 128 * 1024;

/** Options for {@linkcode vcardModule}. */
export interface VcardOptions {
  store: VcardStore;
  /** Largest vCard accepted, in bytes of XML; default {@linkcode VCARD_MAX_BYTES}. */
  maxBytes?: number;
}

/** What other modules may do with vCards (conversions such as XEP-0398). */
export interface VcardApi {
  /** The account's vCard, or null. */
  get(username: string): Element | null;
  /** Replaces the account's vCard; listeners of {@linkcode VcardApi.onSet} are not called. */
  set(username: string, vcard: Element): void;
  /** Called after each vCard a user sets through vcard-temp. */
  onSet(listener: (username: string, vcard: Element) => void): void;
}

/**
 * vCards on account bare JIDs. Reading an account without a vCard answers an empty `<vCard/>`,
 * as Prosody's vcard_legacy does (XEP-0054 §3.1 allows that or `item-not-found`; a result is
 * what most clients handle best). Only the owner may set it (`forbidden` for others). The server
 * feature `vcard-temp` is declared by the module (mod.ts).
 */
export function vcardModule(router: Router, options: VcardOptions): VcardApi {
  const listeners: ((username: string, vcard: Element) => void)[] = [];
  const maxBytes = options.maxBytes ?? VCARD_MAX_BYTES;
  router.iq.on("account", "vCard", NS.VCARD, (stanza, context) => {
    const target = accountTarget(stanza, context);
    if (stanza.attrs.type === "get") {
      const vcard = options.store.get(target.username);
      return accountReply(stanza, context).append(vcard ?? el("vCard", { xmlns: NS.VCARD }));
    }
    if (!target.own) {
      throw new StanzaError("auth", "forbidden", { text: "Only its owner may set a vCard" });
    }
    const vcard = stanza.getChild("vCard", NS.VCARD)!.clone();
    if (new TextEncoder().encode(vcard.toString()).length > maxBytes) {
      throw new StanzaError("modify", "policy-violation", {
        text: `A vCard may have at most ${maxBytes} bytes`,
      });
    }
    options.store.set(target.username, vcard);
    for (const listener of listeners) listener(target.username, vcard.clone());
    return accountReply(stanza, context);
  });
  return {
    get: (username) => options.store.get(username),
    set: (username, vcard) => options.store.set(username, vcard),
    onSet(listener) {
      listeners.push(listener);
    },
  };
}
