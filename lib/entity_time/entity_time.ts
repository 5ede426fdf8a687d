// Entity Time (XEP-0202 §3) of the server, in UTC (XEP-0082 date-time profile).
import type { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import { reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el } from "../xml/element.ts";

/** Options for {@linkcode entityTimeModule}. */
export interface EntityTimeOptions {
  /** The clock, in Unix milliseconds (tests). */
  now?: () => number;
}

/** Answers `<time xmlns='urn:xmpp:time'/>` on the server's domain; the server keeps UTC. */
export function entityTimeModule(router: Router, options: EntityTimeOptions = {}): void {
  const now = options.now ?? Date.now;
  router.iq.on("server", "time", NS.TIME, (stanza) => {
    if (stanza.attrs.type !== "get") throw new StanzaError("cancel", "not-allowed");
    // XEP-0082: seconds precision is what the examples show and every client parses.
    const utc = new Date(now()).toISOString().replace(/\.\d{3}Z$/, "Z");
    return reply(stanza).append(
      el("time", { xmlns: NS.TIME }, el("tzo", {}, "+00:00"), el("utc", {}, utc)),
    );
  });
}
