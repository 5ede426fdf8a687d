// Private XML Storage (XEP-0049 §2–3): a user keeps XML elements on the server, for itself only.
import type { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import type { PrivateStore } from "../storage/private_store.ts";
import { el, type Element } from "../xml/element.ts";
import { accountReply, accountTarget } from "../modules/account_iq.ts";

/** Largest element stored, in bytes of XML. */
export const PRIVATE_MAX_BYTES = 64 * 1024;
/** Most elements one account may store. */
export const PRIVATE_MAX_ELEMENTS = 256;

/** Options for {@linkcode privateStorageModule}. */
export interface PrivateStorageOptions {
  store: PrivateStore;
  /** Largest element stored, in bytes of XML; default {@linkcode PRIVATE_MAX_BYTES}. */
  maxBytes?: number;
  /** Most elements per account; default {@linkcode PRIVATE_MAX_ELEMENTS}. */
  maxElements?: number;
}

/** What other modules may do with private XML storage (conversions such as XEP-0411). */
export interface PrivateStorageApi {
  /** The element stored under `name` and `ns`, or null. */
  get(username: string, name: string, ns: string): Element | null;
  /** Stores an element; listeners of {@linkcode PrivateStorageApi.onSet} are not called. */
  set(username: string, element: Element): void;
  /** Called after each element a user stores through `jabber:iq:private`. */
  onSet(listener: (username: string, element: Element) => void): void;
}

/**
 * `jabber:iq:private` on one's own account. The query holds exactly one element, keyed by its
 * name and namespace; a get for something never stored returns the empty element asked for.
 * Elements in `jabber:iq:private` or `jabber:client` are refused with `not-acceptable`
 * (XEP-0049 §2.3: reserved namespaces), other accounts' storage with `forbidden`.
 */
export function privateStorageModule(
  router: Router,
  options: PrivateStorageOptions,
): PrivateStorageApi {
  const listeners: ((username: string, element: Element) => void)[] = [];
  const maxBytes = options.maxBytes ?? PRIVATE_MAX_BYTES;
  const maxElements = options.maxElements ?? PRIVATE_MAX_ELEMENTS;
  router.iq.on("account", "query", NS.PRIVATE, (stanza, context) => {
    const target = accountTarget(stanza, context);
    if (!target.own) {
      throw new StanzaError("cancel", "forbidden", {
        text: "Private XML storage is for its owner only",
      });
    }
    const items = stanza.getChild("query", NS.PRIVATE)!.elements();
    if (items.length !== 1) {
      throw new StanzaError("modify", "bad-request", {
        text: "The query must hold exactly one element",
      });
    }
    const item = items[0];
    const ns = item.attrs.xmlns ?? NS.PRIVATE;
    if (ns === NS.PRIVATE || ns === NS.CLIENT) {
      throw new StanzaError("modify", "not-acceptable", {
        text: `Elements in the ${ns} namespace cannot be stored`,
      });
    }
    if (stanza.attrs.type === "get") {
      const stored = options.store.get(target.username, item.name, ns);
      return accountReply(stanza, context).append(
        el("query", { xmlns: NS.PRIVATE }, stored ?? item.clone()),
      );
    }
    const element = item.clone();
    if (new TextEncoder().encode(element.toString()).length > maxBytes) {
      throw new StanzaError("modify", "policy-violation", {
        text: `A private XML element may have at most ${maxBytes} bytes`,
      });
    }
    if (
      options.store.count(target.username) >= maxElements &&
      options.store.get(target.username, item.name, ns) === null
    ) {
      throw new StanzaError("modify", "policy-violation", {
        text: `An account may store at most ${maxElements} private XML elements`,
      });
    }
    options.store.set(target.username, element);
    for (const listener of listeners) listener(target.username, element.clone());
    return accountReply(stanza, context);
  });
  return {
    get: (username, name, ns) => options.store.get(username, name, ns),
    set: (username, element) => options.store.set(username, element),
    onSet(listener) {
      listeners.push(listener);
    },
  };
}
