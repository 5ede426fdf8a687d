// A bound session for unit tests, which keeps what the router sends it.
import { parseJid } from "../jid/jid.ts";
import { el, type Element } from "../xml/element.ts";
import type { BoundSession } from "./session.ts";

/** A session bound to `jid` whose received stanzas are collected in `received`. */
export function recordingSession(
  jid: string,
  options: { id?: string; presence?: Element | null } = {},
): { session: BoundSession; received: Element[] } {
  const received: Element[] = [];
  const session: BoundSession = {
    id: options.id ?? "c2s1",
    jid: parseJid(jid),
    presence: options.presence === undefined ? el("presence") : options.presence,
    priority: 0,
    directedPresence: new Set(),
    send: (stanza) => received.push(stanza),
    sendXml: () => {},
    closeWithError: () => {},
  };
  return { session, received };
}
