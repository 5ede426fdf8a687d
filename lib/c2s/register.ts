// What the c2s stream needs of in-band registration before authentication (XEP-0077 §3.1); the
// registration module (lib/register/) implements it and the server hands it to the streams.
import type { Element } from "../xml/element.ts";

/** What a c2s stream asks of registration before authentication. */
export interface PreAuthRegistration {
  /** Whether to offer the stream feature (the stream offers it only once encrypted). */
  readonly allowed: boolean;
  /**
   * Answers a `jabber:iq:register` iq from a stream that has not authenticated; throws
   * `StanzaError` for the error reply.
   */
  handle(stanza: Element, stream: { encrypted: boolean; address: string }): Promise<Element>;
}
