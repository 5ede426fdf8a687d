// The contract between the router and a component on its own domain (e.g. MUC).
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
