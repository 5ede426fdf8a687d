// Software Version (XEP-0092) of the server.
import type { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import { reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el } from "../xml/element.ts";

/** The version this build reports. */
export const VERONA_VERSION = "0.1.0";

export function versionModule(router: Router): void {
  router.iq.on("server", "query", NS.VERSION, (stanza) => {
    if (stanza.attrs.type !== "get") throw new StanzaError("cancel", "not-allowed");
    return reply(stanza).append(
      el(
        "query",
        { xmlns: NS.VERSION },
        el("name", {}, "Verona"),
        el("version", {}, VERONA_VERSION),
      ),
    );
  });
}
