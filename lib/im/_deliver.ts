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

/**
 * Runs `fn` right after the answer to the iq being handled has been sent, so that the resource
 * that asked learns of its success before the pushes that follow (Prosody's order; RFC 6121
 * §2.3.2 and XEP-0191 §3.3 fix none). The router sends a handler's answer in the continuation of
 * `await handler(...)`, one microtask after the handler returns; `fn` runs two microtasks later,
 * still in the same turn of the event loop, so nothing else is read or sent in between and a
 * client gets answer and pushes together.
 */
export function afterAnswer(fn: () => void): void {
  queueMicrotask(() => queueMicrotask(fn));
}
