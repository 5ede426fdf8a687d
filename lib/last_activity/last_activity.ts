// Last Activity (XEP-0012): the server's uptime (§5) and, for an account, the time since its last
// logout (§3). Queries to a full JID (§4) are the client's business and are routed to it.
import type { Router } from "../router/router.ts";
import { Priority } from "../router/hooks.ts";
import type { BoundSession } from "../router/session.ts";
import { NS } from "../stanza/ns.ts";
import { reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import type { LastActivityStore } from "../storage/last_activity_store.ts";
import { el } from "../xml/element.ts";
import { accountReply, accountTarget } from "../modules/account_iq.ts";

/** Options for {@linkcode lastActivityModule}. */
export interface LastActivityOptions {
  store: LastActivityStore;
  /** Whether the account exists (no logout is recorded for one just removed). */
  accountExists(username: string): boolean;
  /**
   * Whether `contact` (a bare JID) may see the presence of `username`: a subscription `from` or
   * `both` on the owner's roster (XEP-0012 §3).
   */
  canSeePresence(username: string, contact: string): boolean;
  /** The clock, in Unix milliseconds (tests). */
  now?: () => number;
}

/**
 * Registers the jabber:iq:last handlers and records each account's logout when its last session
 * ends, with the `<status/>` of the unavailable presence it sent, if any.
 *
 * For an account: the owner and contacts who may see its presence get an answer, others
 * `forbidden`. While the account has an available session the answer is an empty `seconds='0'`
 * (§3: MUST) without asking the client; otherwise the time since its last resource went
 * unavailable and that presence's status; `seconds='0'` again for an account that is connected
 * and never went unavailable, and `item-not-found` for one never seen at all (Prosody answers
 * `seconds='0'` there too, which would read as "active now").
 */
export function lastActivityModule(router: Router, options: LastActivityOptions): void {
  const now = options.now ?? Date.now;
  const startedAt = now();
  /** Sessions whose going unavailable was recorded already, so their end adds nothing. */
  const recorded = new WeakSet<BoundSession>();

  // The account goes offline, presence-wise, when its last available resource broadcasts
  // unavailable presence (sent by the client, or by the server when the stream ends): that
  // moment and status are what §3 reports, also while a session stays connected (as Prosody).
  router.hooks.on("presence-broadcast", ({ stanza, origin }) => {
    if (stanza.attrs.type !== "unavailable") return;
    recorded.add(origin);
    if (router.sessionsOf(origin.jid.bare).some((session) => session.presence !== null)) return;
    if (!options.accountExists(origin.jid.local)) return;
    options.store.set(origin.jid.local, {
      logoutAt: now(),
      status: stanza.getChildText("status") ?? null,
    });
  }, Priority.LATE);

  // A session that never was available still counts as a login when it ends.
  router.onSessionEnded((session) => {
    if (recorded.has(session) || router.sessionsOf(session.jid.bare).length > 0) return;
    if (!options.accountExists(session.jid.local)) return;
    options.store.set(session.jid.local, { logoutAt: now(), status: null });
  });

  router.iq.on("server", "query", NS.LAST, (stanza) => {
    if (stanza.attrs.type !== "get") throw new StanzaError("cancel", "not-allowed");
    return reply(stanza).append(query(now() - startedAt, null));
  });

  router.iq.on("account", "query", NS.LAST, (stanza, context) => {
    if (stanza.attrs.type !== "get") throw new StanzaError("cancel", "not-allowed");
    const target = accountTarget(stanza, context);
    const from = context.origin?.jid.bare;
    if (!target.own && (from === undefined || !options.canSeePresence(target.username, from))) {
      throw new StanzaError("auth", "forbidden", {
        text: "Only contacts with a presence subscription may see the last activity",
      });
    }
    if (router.sessionsOf(target.bare).some((session) => session.presence !== null)) {
      return accountReply(stanza, context).append(query(0, null));
    }
    const last = options.store.get(target.username);
    if (last === null) {
      // Connected, never yet gone: active now (§3 says so for a connected resource too).
      if (router.sessionsOf(target.bare).length > 0) {
        return accountReply(stanza, context).append(query(0, null));
      }
      throw new StanzaError("cancel", "item-not-found");
    }
    return accountReply(stanza, context).append(query(now() - last.logoutAt, last.status));
  });
}

function query(ms: number, status: string | null) {
  return el("query", { xmlns: NS.LAST, seconds: Math.max(0, Math.floor(ms / 1000)) }, status);
}
