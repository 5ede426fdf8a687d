// XMPP Ping (XEP-0199): the server answers pings to itself and to account bare JIDs.
import type { IqHandler } from "../router/iq.ts";
import type { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import { reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";

export function pingModule(router: Router): void {
  const pong: IqHandler = (stanza) => {
    if (stanza.attrs.type !== "get") throw new StanzaError("cancel", "not-allowed");
    return reply(stanza);
  };
  router.iq.on("server", "ping", NS.PING, pong);
  // RFC 6120 §10.3.3: the server answers iqs to an account's bare JID on its behalf.
  router.iq.on("account", "ping", NS.PING, pong);
}
