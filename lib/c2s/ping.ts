// XMPP Ping (XEP-0199): the server answers pings to itself and to account bare JIDs.
import type { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import { reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";

export function pingModule(router: Router): void {
  const pong = (stanza: Parameters<Parameters<Router["iq"]["on"]>[3]>[0]) => {
    if (stanza.attrs.type !== "get") throw new StanzaError("cancel", "not-allowed");
    return reply(stanza);
  };
  router.iq.on("server", "ping", NS.PING, pong);
}
