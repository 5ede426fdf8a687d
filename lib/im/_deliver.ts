// Presence delivery helpers shared by the IM modules (RFC 6121 §3–§4).
import type { Router } from "../router/router.ts";
import { el, type Element } from "../xml/element.ts";

/** Routes a stanza, logging instead of throwing if a component's async handling fails. */
export function send(router: Router, stanza: Element): void {
  const result = router.route(stanza);
  if (result instanceof Promise) result.catch(() => {});
}

/** Sends the current presence of each available resource of `userBare` to `to`. */
export function sendAvailable(router: Router, userBare: string, to: string): void {
  for (const session of router.sessionsOf(userBare)) {
    if (session.presence === null) continue;
    send(router, session.presence.clone({ ...session.presence.attrs, from: session.jid.full, to }));
  }
}

/** Sends unavailable presence from each available resource of `userBare` to `to`. */
export function sendUnavailable(router: Router, userBare: string, to: string): void {
  for (const session of router.sessionsOf(userBare)) {
    if (session.presence === null) continue;
    send(router, el("presence", { from: session.jid.full, to, type: "unavailable" }));
  }
}

/** Hands a stanza to every available resource of a local user (bare JID), unchanged. */
export function toAvailableResources(router: Router, bare: string, stanza: Element): void {
  for (const session of router.sessionsOf(bare)) {
    if (session.presence !== null) session.send(stanza);
  }
}
