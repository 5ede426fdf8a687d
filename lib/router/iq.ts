// iq semantics in one place (RFC 6120 §8.2.3): one payload child, handlers by namespace.
import { StanzaError } from "../stanza/stanza_error.ts";
import type { Element } from "../xml/element.ts";
import type { BoundSession } from "./session.ts";

/** Who an iq is addressed to, as far as server-side handlers go. */
export type IqTarget = "server" | "account";

/** What an iq handler gets besides the stanza. */
export interface IqContext {
  /** The sending session, when the iq comes from a local client. */
  origin?: BoundSession;
}

/** Answers an iq get/set with a result element (or throws `StanzaError`). */
export type IqHandler = (
  stanza: Element,
  context: IqContext,
) => Element | Promise<Element>;

/** iq handlers keyed by target, payload name and namespace. */
export class IqRegistry {
  #handlers = new Map<string, IqHandler>();

  /** Registers the handler for `<name xmlns=ns/>` payloads sent to `target`. */
  on(target: IqTarget, name: string, ns: string, handler: IqHandler): void {
    this.#handlers.set(`${target} ${ns} ${name}`, handler);
  }

  /** Every namespace handled for a target, for disco#info features. */
  namespaces(target: IqTarget): string[] {
    const found = new Set<string>();
    for (const key of this.#handlers.keys()) {
      const [t, ns] = key.split(" ");
      if (t === target) found.add(ns);
    }
    return [...found];
  }

  /** The handler for a get/set iq, or throws the right `StanzaError`. */
  find(target: IqTarget, stanza: Element): IqHandler {
    const payload = iqPayload(stanza);
    const handler = this.#handlers.get(`${target} ${payload.attrs.xmlns} ${payload.name}`);
    if (!handler) throw new StanzaError("cancel", "service-unavailable");
    return handler;
  }
}

/** The single child of an iq get/set; `bad-request` if there is not exactly one. */
export function iqPayload(stanza: Element): Element {
  const children = stanza.elements();
  if (children.length !== 1) {
    throw new StanzaError("modify", "bad-request", {
      text: "An iq get or set must have exactly one child element",
    });
  }
  return children[0];
}
