// Helpers for iq handlers that answer on behalf of an account's bare JID (RFC 6120 §10.3.3).
import { parseJid } from "../jid/jid.ts";
import type { IqContext } from "../router/iq.ts";
import { reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import type { Element } from "../xml/element.ts";

/** The account an iq is addressed to, and whether the sender is its owner. */
export interface AccountTarget {
  /** The prepared localpart. */
  username: string;
  /** `local@domain`. */
  bare: string;
  /** True when the iq comes from one of the account's own sessions. */
  own: boolean;
}

/** The account addressed by an iq the router gave to an "account" handler. */
export function accountTarget(stanza: Element, { origin }: IqContext): AccountTarget {
  const to = stanza.attrs.to === undefined ? origin?.jid : parseJid(stanza.attrs.to);
  if (to === undefined || to.local === "") {
    throw new StanzaError("modify", "bad-request", { text: "No account addressed" });
  }
  return { username: to.local, bare: to.bare, own: origin?.jid.bare === to.bare };
}

/**
 * The result for an iq to an account. An iq without `to` was addressed to the sender's own
 * account; its answer comes from that bare JID (as disco#info on accounts does).
 */
export function accountReply(stanza: Element, { origin }: IqContext): Element {
  const implicit = stanza.attrs.to === undefined && origin !== undefined;
  return reply(stanza, implicit ? { from: origin.jid.bare } : {});
}
