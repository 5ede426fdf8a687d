// The contract between the router and a component on its own domain (e.g. MUC).
import { StanzaError } from "../stanza/stanza_error.ts";
import type { Element } from "../xml/element.ts";

/** Delivers a stanza to whatever its `to` names: a session, the server, a component. */
export type Deliver = (stanza: Element) => void;

/** A service that owns a whole domain, such as `conference.localhost`. */
export interface Component {
  /** The domain this component answers for. */
  readonly domain: string;
  /**
   * Handles a stanza whose `to` is this domain or a JID in it. `from` is always
   * the sender's full JID, stamped by the server. Errors thrown as `StanzaError`
   * are turned into error replies by the router; the returned promise settles
   * when the stanza is fully processed (the sender's next stanza waits for it).
   */
  handle(stanza: Element): Promise<void> | void;
  /** Called once at shutdown, to flush state. */
  close?(): Promise<void> | void;
}

/**
 * The request of an iq get/set addressed to a component's own domain (RFC 6120 §8.2.3: exactly
 * one payload child), or null for what a service answers nothing to: messages, presence, and iq
 * results or errors (answers to nothing it asked). An iq to a JID inside the domain is
 * `service-unavailable`; a payload that is not one element is `bad-request`.
 */
export function serviceRequest(
  stanza: Element,
  domain: string,
): { type: "get" | "set"; query: Element } | null {
  if (stanza.name !== "iq") return null;
  const type = stanza.attrs.type;
  if (type !== "get" && type !== "set") return null;
  if (stanza.attrs.to !== domain) throw new StanzaError("cancel", "service-unavailable");
  const payload = stanza.children.filter((c): c is Element => typeof c !== "string");
  if (payload.length !== 1) throw new StanzaError("modify", "bad-request");
  return { type, query: payload[0] };
}
