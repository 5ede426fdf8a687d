// What the router knows about a bound client session (RFC 6120 §7, RFC 6121 §4).
import type { Jid } from "../jid/jid.ts";
import type { Element } from "../xml/element.ts";

/** A stream that has bound a resource and can receive stanzas. */
export interface BoundSession {
  /** Session id, for logs. */
  readonly id: string;
  /** The full JID bound to this session. */
  readonly jid: Jid;
  /** The last broadcast presence, or null before initial presence / after unavailable. */
  presence: Element | null;
  /** Priority from the last broadcast presence (RFC 6121 §4.7.2.3). */
  priority: number;
  /**
   * JIDs this session sent directed presence to (they get unavailable when it ends); made on
   * the first one, as most sessions never send any.
   */
  directedPresence?: Set<string>;
  /** Serializes and queues a stanza for the client, synchronously. */
  send(stanza: Element): void;
  /** Queues an already serialized stanza (`jabber:client` default namespace) for the client. */
  sendXml(xml: string): void;
  /** Ends the stream with a stream error (e.g. `conflict` when another session takes the resource). */
  closeWithError(condition: string, text?: string): void;
}
